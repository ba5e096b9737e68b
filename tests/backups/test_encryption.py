"""Backups encrypted with a passphrase (issue 14, point 3): WinZip AES-256 that Debian's 7-Zip opens,
a wrong or missing passphrase refused with nothing changed, a tampered file caught, and every
hostile-ZIP check still applied after decryption."""

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import pyzipper
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.archive import BackupRefused, PassphraseRefused, backup_encrypted
from backups.models import Backup
from backups.services import RestoreOptions, backup_create, backup_restore
from plugtrack_site.errors import PlugTrackError

from .conftest import dump

PASSPHRASE = "correct horse battery"
SEVEN_ZIP = shutil.which("7zz") or shutil.which("7z")  # Debian's 7zip package (.ci/run installs it)


@pytest.fixture
def encrypted(account, tmp_path) -> Path:
    return Path(backup_create(user=account, target=tmp_path / "alice.zip", passphrase=PASSPHRASE).path)


def test_every_member_is_aes_256_encrypted_and_unreadable_without_the_passphrase(encrypted):
    assert Backup.objects.get().encrypted and backup_encrypted(encrypted)
    with pyzipper.AESZipFile(encrypted) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == [
            "schema_version.txt", "cars.csv", "settings.json", "sessions.csv", "manifest.json",
        ]  # fmt: skip
        assert all(info.flag_bits & 0x1 and info.compress_type == pyzipper.ZIP_DEFLATED for info in infos)
    with zipfile.ZipFile(encrypted) as archive, pytest.raises((RuntimeError, NotImplementedError)):
        archive.read("cars.csv")  # the standard library cannot read it without the passphrase
    assert b"Niro" not in encrypted.read_bytes() and b"GRIDSERVE" not in encrypted.read_bytes()


@pytest.mark.skipif(SEVEN_ZIP is None, reason="7-Zip is not installed (apt-get install 7zip)")
def test_7_zip_opens_it_with_the_passphrase_and_what_it_reads_restores(encrypted, account, tmp_path, django_user_model):
    listing = subprocess.run([SEVEN_ZIP, "l", "-slt", f"-p{PASSPHRASE}", str(encrypted)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert listing.count("Method = AES-256 Deflate") == 5
    wrong = subprocess.run([SEVEN_ZIP, "t", "-pnot-it", str(encrypted)], capture_output=True, text=True)
    assert wrong.returncode != 0 and "Wrong password" in wrong.stdout + wrong.stderr
    out = tmp_path / "opened"
    subprocess.run([SEVEN_ZIP, "x", f"-p{PASSPHRASE}", f"-o{out}", str(encrypted)], capture_output=True, check=True)
    assert json.loads((out / "manifest.json").read_text())["counts"] == {"cars": 2, "sessions": 3, "settings": 10}
    # What 7-Zip took out, zipped again without a passphrase, is the same backup: it restores the same account.
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("schema_version.txt", "cars.csv", "settings.json", "sessions.csv", "manifest.json"):
            archive.write(out / name, name)
    bob = django_user_model.objects.create_user("alice2")
    backup_restore(user=bob, source=plain, mode="merge")
    carol = django_user_model.objects.create_user("alice3")
    backup_restore(user=carol, source=encrypted, mode="merge", options=RestoreOptions(passphrase=PASSPHRASE))
    assert dump(bob) == dump(carol) and dump(carol)["sessions"] == dump(account)["sessions"]


def test_a_missing_or_wrong_passphrase_is_refused_and_changes_nothing(encrypted, account):
    before = dump(account)
    with pytest.raises(PassphraseRefused, match="alice.zip is encrypted: give its passphrase"):
        backup_restore(user=account, source=encrypted, mode="replace")
    with pytest.raises(PassphraseRefused, match="The passphrase is not the one alice.zip was encrypted with"):
        backup_restore(
            user=account, source=encrypted, mode="replace",
            options=RestoreOptions(passphrase="not the passphrase"),
        )
    assert dump(account) == before and Backup.objects.count() == 1  # no automatic backup either
    report = backup_restore(
        user=account, source=encrypted, mode="replace",
        options=RestoreOptions(passphrase=PASSPHRASE),
    )
    assert report.ok and dump(account) == before


def test_a_tampered_encrypted_backup_is_refused(encrypted, account, tmp_path):
    data = bytearray(encrypted.read_bytes())
    with pyzipper.AESZipFile(encrypted) as archive:
        sessions = archive.getinfo("sessions.csv")
    data[sessions.header_offset + 100] ^= 0x01  # a byte of sessions.csv's encrypted data
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(bytes(data))
    before = dump(account)
    with pytest.raises(BackupRefused, match="tampered.zip was altered or damaged"):
        backup_restore(user=account, source=tampered, mode="replace", options=RestoreOptions(passphrase=PASSPHRASE))
    assert dump(account) == before


def test_the_hostile_zip_checks_apply_after_decryption(account, tmp_path):
    path = tmp_path / "evil.zip"
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(PASSPHRASE.encode())
        for name in ("schema_version.txt", "cars.csv", "settings.json", "sessions.csv", "manifest.json"):
            archive.writestr(name, b"1\n")
        archive.writestr("../escape.txt", b"owned")
    with pytest.raises(BackupRefused, match="a member whose path leaves its folder"):
        backup_restore(user=account, source=path, mode="merge", options=RestoreOptions(passphrase=PASSPHRASE))
    assert not (tmp_path.parent / "escape.txt").exists()


def test_the_commands_take_the_passphrase_from_the_environment_and_exit_2_without_it(account, tmp_path,
                                                                                      monkeypatch, capsys):  # fmt: skip
    with pytest.raises(CommandError, match="needs a passphrase: set PLUGTRACK_BACKUP_PASSPHRASE") as refused:
        call_command("backup_create", "--to", str(tmp_path), "--encrypt")
    assert refused.value.returncode == 2 and not Backup.objects.exists()
    monkeypatch.setenv("PLUGTRACK_BACKUP_PASSPHRASE", "short")
    with pytest.raises(CommandError, match="at least 8 characters"):
        call_command("backup_create", "--to", str(tmp_path), "--encrypt")
    monkeypatch.setenv("PLUGTRACK_BACKUP_PASSPHRASE", PASSPHRASE)
    call_command("backup_create", "--to", str(tmp_path / "enc.zip"), "--encrypt", "--json")
    assert json.loads(capsys.readouterr().out)["encrypted"] is True and backup_encrypted(tmp_path / "enc.zip")
    call_command("backup_restore", "--from", str(tmp_path / "enc.zip"), "--dry-run")
    monkeypatch.setenv("PLUGTRACK_BACKUP_PASSPHRASE", "a wrong passphrase")
    with pytest.raises(CommandError, match="is not the one enc.zip was encrypted with") as wrong:
        call_command("backup_restore", "--from", str(tmp_path / "enc.zip"), "--mode", "replace", "--no-input")
    assert wrong.value.returncode == 2
    monkeypatch.delenv("PLUGTRACK_BACKUP_PASSPHRASE")
    with pytest.raises(CommandError, match="This encrypted backup needs a passphrase"):
        call_command("backup_restore", "--from", str(tmp_path / "enc.zip"), "--dry-run")
    assert isinstance(PassphraseRefused("x"), PlugTrackError)


def test_an_encrypted_zip_with_an_unknown_aes_strength_is_refused_with_a_message(encrypted, account, tmp_path):
    data = bytearray(encrypted.read_bytes())
    start = data.find(b"\x01\x99\x07\x00")  # the WinZip AES extra field: id 0x9901, 7 bytes
    while start != -1:
        data[start + 8] = 9  # its strength byte: 1, 2 or 3 (AES-128, 192, 256); 9 is none of them
        start = data.find(b"\x01\x99\x07\x00", start + 4)
    odd = tmp_path / "odd.zip"
    odd.write_bytes(bytes(data))
    with pytest.raises(BackupRefused, match="odd.zip cannot be read as a ZIP file"):
        backup_restore(user=account, source=odd, mode="merge", options=RestoreOptions(passphrase=PASSPHRASE))

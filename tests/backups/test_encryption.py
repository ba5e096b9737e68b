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
from django.urls import reverse

from backups.archive import BackupRefused, PassphraseRefused, backup_encrypted
from backups.models import Backup, BackupSchedule
from backups.schedules import SchedulePlan, schedule_save
from backups.services import RestoreOptions, backup_create, backup_restore
from jobs.models import Job
from jobs.services import job_execute
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
    assert json.loads((out / "manifest.json").read_text())["counts"] == {"cars": 2, "sessions": 3, "settings": 9}
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


# A backup made now in the admin, encrypted with the owner's backup passphrase (issue 22, point 5).


def create_now(client, **form):
    """The admin's "Create a backup now", sent with `form`; the job page it lands on (jobs run at once in tests)."""
    return client.post(reverse("admin:backups_backup_create"), form, follow=True)


def seven_zip(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([SEVEN_ZIP, *arguments], capture_output=True, text=True, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(SEVEN_ZIP is None, reason="7-Zip is not installed (apt-get install 7zip)")
def test_a_backup_made_now_with_the_schedules_passphrase_is_opened_by_7_zip_with_it_and_refused_without(
    owner_client, account, tmp_path
):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
                  passphrase=PASSPHRASE)  # fmt: skip
    page = owner_client.get(reverse("admin:backups_backup_create"))
    html = page.content.decode()
    assert "Yes, with my backup passphrase" in html and "the one saved for your scheduled backups" in html
    assert PASSPHRASE not in html
    assert page.context["form"]["encryption"].value() == "saved"  # the schedule encrypts: so does this, unasked

    response = create_now(owner_client, encryption="saved")
    html = response.content.decode()
    assert "Backup written, encrypted: 2 cars, 3 sessions, 9 settings." in html
    assert "Encrypted with your backup passphrase" in html and PASSPHRASE not in html
    backup = Backup.objects.get()
    assert backup.encrypted and backup_encrypted(backup.path)
    assert seven_zip("l", "-slt", f"-p{PASSPHRASE}", backup.path).stdout.count("Method = AES-256 Deflate") == 5
    out = tmp_path / "opened"
    assert seven_zip("x", f"-p{PASSPHRASE}", f"-o{out}", backup.path).returncode == 0
    assert json.loads((out / "manifest.json").read_text())["counts"] == {"cars": 2, "sessions": 3, "settings": 9}
    wrong = seven_zip("t", "-pnot-the-passphrase", backup.path)
    assert wrong.returncode != 0 and "Wrong password" in wrong.stdout + wrong.stderr
    without = seven_zip("x", f"-o{tmp_path / 'without'}", backup.path)  # no passphrase, nothing to type it on
    assert without.returncode != 0 and "Enter password" in without.stdout + without.stderr
    assert not any(path.stat().st_size for path in (tmp_path / "without").rglob("*"))  # (7-Zip may leave it empty)


@pytest.mark.skipif(SEVEN_ZIP is None, reason="7-Zip is not installed (apt-get install 7zip)")
def test_a_backup_made_now_with_a_passphrase_typed_twice_uses_it_once_and_keeps_it_nowhere(
    owner_client, account, tmp_path
):
    typed = "a passphrase typed twice"
    assert "my backup passphrase" not in owner_client.get(reverse("admin:backups_backup_create")).content.decode()
    refused = [
        ({"encryption": "typed", "passphrase": "short", "passphrase_again": "short"}, "at least 8 characters"),
        ({"encryption": "typed", "passphrase": typed, "passphrase_again": typed + "!"}, "The two passphrases differ."),
        ({"encryption": "saved"}, "Select a valid choice"),  # no schedule's passphrase to use
    ]
    for form, said in refused:
        response = create_now(owner_client, **form)
        assert said in response.content.decode() and typed not in response.content.decode()
    assert not Job.objects.exists() and not Backup.objects.exists()

    response = create_now(owner_client, encryption="typed", passphrase=typed, passphrase_again=typed)
    assert "Backup written, encrypted" in response.content.decode()
    assert "Encrypted with the passphrase you typed" in response.content.decode()
    backup = Backup.objects.get()
    assert backup.encrypted and seven_zip("t", f"-p{typed}", backup.path).returncode == 0
    assert seven_zip("t", "-pnot-it", backup.path).returncode != 0
    job = Job.objects.get()
    assert job.options == {"encrypt": "typed"}  # the passphrase's ciphertext went once the backup was written
    assert typed not in str([job.options, job.report, job.outcome])
    assert not BackupSchedule.objects.filter(user=account).exclude(passphrase="").exists()  # not kept as the schedule's


def test_a_plain_backup_made_now_is_a_plain_zip(owner_client, account):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False),
                  passphrase=PASSPHRASE)  # fmt: skip
    page = owner_client.get(reverse("admin:backups_backup_create"))
    assert page.context["form"]["encryption"].value() == "plain"  # the schedule does not encrypt: nor does this
    response = create_now(owner_client, encryption="plain")
    assert "Backup written: 2 cars, 3 sessions, 9 settings." in response.content.decode()
    backup = Backup.objects.get()
    assert not backup.encrypted and "manifest.json" in zipfile.ZipFile(backup.path).namelist()


def test_a_schedules_passphrase_removed_before_the_job_runs_fails_it_with_nothing_written(owner_client, account):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
                  passphrase=PASSPHRASE)  # fmt: skip
    job = Job.objects.create(
        user=account, kind=Job.Kind.BACKUP_CREATE, phase=Job.Phase.RUN, options={"encrypt": "saved"}
    )
    BackupSchedule.objects.filter(user=account).update(passphrase="", encrypt=False)
    job_execute(str(job.token))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "passphrase was removed meanwhile" in job.outcome[0][1]
    assert not Backup.objects.exists()

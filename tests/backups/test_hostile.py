"""A backup ZIP is untrusted input: each bad file is refused, with its reason, before any write."""

import json
import stat
import zipfile
from pathlib import Path

import pytest

from backups import schema
from backups.archive import BackupRefused, _read_member
from backups.models import Backup
from backups.services import backup_restore
from cars_app.models import NOTES_MAX_CHARS

from .conftest import dump
from .zip_helpers import altered, read_members, write_zip


@pytest.fixture
def refused(account, backup_path, tmp_path):
    """Assert that restoring `path` (as a replace, the most destructive) is refused with `message`
    and leaves the account, and the list of backups, untouched."""

    def check(path, message: str):
        before = dump(account)
        with pytest.raises(BackupRefused, match=message):
            backup_restore(user=account, source=path, mode="replace")
        assert dump(account) == before
        assert not Backup.objects.filter(kind="automatic").exists()

    return check


def with_members(backup_path, tmp_path, changes: dict, reseal=True, name="bad.zip"):
    return altered(backup_path, tmp_path / name, changes, reseal=reseal)


def test_not_a_zip(refused, tmp_path):
    path = tmp_path / "notes.zip"
    path.write_text("just some text")
    refused(path, "notes.zip is not a ZIP file")


def test_a_missing_file(refused, tmp_path):
    refused(tmp_path / "nope.zip", "No backup file at")


def test_a_truncated_zip(refused, backup_path, tmp_path):
    path = tmp_path / "cut.zip"
    path.write_bytes(Path(backup_path).read_bytes()[:-200])
    refused(path, "is not a ZIP file, or it is truncated or corrupt")


def test_a_corrupt_member(refused, backup_path, tmp_path):
    data = bytearray(Path(backup_path).read_bytes())
    with zipfile.ZipFile(backup_path) as archive:
        info = archive.getinfo("cars.csv")
    offset = info.header_offset + 30 + len(info.filename) + 5  # inside the compressed data
    data[offset] ^= 0xFF
    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(data))
    refused(path, "truncated or corrupt|cannot be read")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"remove": "settings.json"}, r"missing: settings.json"),
        ({"add": ("evil.sh", b"rm -rf /")}, r"unexpected: evil.sh"),
        ({"add": ("/etc/cron.d/evil", b"x")}, r"absolute path \(\"/etc/cron.d/evil\"\)"),
        ({"add": ("../../outside.txt", b"x")}, r"leaves its folder \(\"../../outside.txt\"\)"),
        ({"add": ("C:/Windows/evil", b"x")}, r"absolute path"),
        ({"add": ("sub\\..\\..\\x", b"x")}, r"absolute path"),
    ],
)
def test_wrong_or_dangerous_members(refused, backup_path, tmp_path, change, message):
    members = read_members(backup_path)
    if "remove" in change:
        del members[change["remove"]]
    else:
        name, data = change["add"]
        members[name] = data
    refused(write_zip(tmp_path / "bad.zip", members), message)


def test_a_repeated_member(refused, backup_path, tmp_path):
    path = tmp_path / "twice.zip"
    members = read_members(backup_path)
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("cars.csv", members["cars.csv"])
    refused(path, "repeated: cars.csv")


def test_a_symlink_member(refused, backup_path, tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in read_members(backup_path).items():
            info = zipfile.ZipInfo(name)
            if name == "cars.csv":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = b"/etc/passwd"
            archive.writestr(info, data)
    refused(path, r'symbolic link \("cars.csv"\)')


def test_an_encrypted_member(refused, backup_path, tmp_path):
    # zipfile cannot write encrypted members: set the "encrypted" flag in the headers by hand.
    data = bytearray(Path(backup_path).read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + flag_offset] |= 0x1
            start = data.find(signature, start + 4)
    path = tmp_path / "locked.zip"
    path.write_bytes(bytes(data))
    refused(path, "locked.zip is encrypted: give its passphrase")


def test_a_member_over_the_size_limit(refused, backup_path, monkeypatch):
    monkeypatch.setitem(schema.MEMBER_MAX_BYTES, "cars.csv", 100)
    refused(backup_path, r"cars.csv would unpack to [\d,]+ bytes, over the limit of 100")


def test_a_zip_bomb(refused, backup_path, tmp_path):
    bomb = b"car_id," + b"0" * (8 * 1024 * 1024)
    bad = with_members(backup_path, tmp_path, {"sessions.csv": bomb}, reseal=False)
    refused(bad, "compressed [\\d,]+ to 1.*possible ZIP bomb")


def test_a_member_longer_than_it_says_is_cut_off(monkeypatch):
    monkeypatch.setitem(schema.MEMBER_MAX_BYTES, "cars.csv", 1000)

    class Member:
        def __init__(self):
            self.left = 10_000

        def read(self, size):
            chunk = b"x" * min(size, self.left)
            self.left -= len(chunk)
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    class Archive:
        def open(self, name):
            return Member()

    with pytest.raises(BackupRefused, match="cars.csv unpacks to more than 1,000 bytes"):
        _read_member(Archive(), "cars.csv")


def test_a_checksum_mismatch(refused, backup_path, tmp_path):
    members = read_members(backup_path)
    tampered = members["cars.csv"].replace(b"Niro", b"Nero")
    refused(
        with_members(backup_path, tmp_path, {"cars.csv": tampered}, reseal=False),
        "cars.csv does not match the checksum in manifest.json",
    )


def test_a_count_mismatch(refused, backup_path, tmp_path):
    members = read_members(backup_path)
    manifest = json.loads(members["manifest.json"])
    manifest["counts"]["sessions"] = 99
    path = write_zip(tmp_path / "bad.zip", members | {"manifest.json": json.dumps(manifest).encode()}, reseal=False)
    refused(path, "The counts in manifest.json .* do not match the contents")


@pytest.mark.parametrize(
    ("manifest_change", "message"),
    [
        (b"{not json", "manifest.json is not valid JSON"),
        ({"app": "SomethingElse"}, "not a PlugTrack backup"),
        ({"schema_version": 99}, "made by a newer PlugTrack than this one.*format is 99"),
        ({"schema_version": 0}, "Schema version 0 is not one PlugTrack ever wrote"),
        ({"schema_version": "2"}, "no valid schema_version"),
    ],
)
def test_bad_manifests(refused, backup_path, tmp_path, manifest_change, message):
    members = read_members(backup_path)
    if isinstance(manifest_change, bytes):
        members["manifest.json"] = manifest_change
    else:
        manifest = json.loads(members["manifest.json"]) | manifest_change
        members["manifest.json"] = json.dumps(manifest).encode()
        if isinstance(manifest_change.get("schema_version"), int):
            members["schema_version.txt"] = f"{manifest_change['schema_version']}\n".encode()
    refused(write_zip(tmp_path / "bad.zip", members, reseal=not isinstance(manifest_change, bytes)), message)


def test_schema_version_file_and_manifest_disagree(refused, backup_path, tmp_path):
    refused(with_members(backup_path, tmp_path, {"schema_version.txt": b"1\n"}), "disagree on the schema version")


def test_invalid_settings_json(refused, backup_path, tmp_path):
    refused(with_members(backup_path, tmp_path, {"settings.json": b"[1, 2"}), "settings.json is not valid JSON")
    refused(
        with_members(backup_path, tmp_path, {"settings.json": b'{"petrol_mpg": "5"}'}, name="b2.zip"),
        "Petrol car economy .*: must be between 10 and 200",
    )


def test_an_invalid_car(refused, backup_path, tmp_path):
    cars = read_members(backup_path)["cars.csv"].replace(b",64.8,", b",-3,")
    refused(with_members(backup_path, tmp_path, {"cars.csv": cars}), "cars.csv line 2: battery_kwh")


def test_sessions_of_an_unknown_car(refused, backup_path, tmp_path):
    sessions = read_members(backup_path)["sessions.csv"].decode().splitlines(keepends=True)
    sessions[-1] = "999" + sessions[-1][sessions[-1].index(",") :]
    refused(
        with_members(backup_path, tmp_path, {"sessions.csv": "".join(sessions).encode()}),
        r"sessions.csv refers to car id\(s\) 999 that cars.csv does not have",
    )


def test_sessions_with_wrong_columns(refused, backup_path, tmp_path):
    sessions = read_members(backup_path)["sessions.csv"].replace(b"car_id,", b"vehicle,", 1)
    refused(with_members(backup_path, tmp_path, {"sessions.csv": sessions}), "sessions.csv has the columns vehicle")


@pytest.mark.parametrize("cars_change", [(b",64.8,", b",64.8,extra,"), (b",1,months,", b",\xc2\xb2,months,")])
def test_a_malformed_car_row_is_refused_not_a_crash(refused, backup_path, tmp_path, cars_change):
    cars = read_members(backup_path)["cars.csv"].replace(*cars_change, 1)
    refused(with_members(backup_path, tmp_path, {"cars.csv": cars}), "cars.csv line 2")


def test_a_car_note_over_the_limit_refuses_the_backup(refused, backup_path, tmp_path):
    cars = read_members(backup_path)["cars.csv"].replace(b"family car", b"n" * (NOTES_MAX_CHARS + 1))
    refused(with_members(backup_path, tmp_path, {"cars.csv": cars}), "cars.csv line 2: notes")

"""Every limit of a backup ZIP, each with a file that breaks it: refused within seconds with a
short message, nothing written; and a restore's cost grows with rows, not with cars."""

import csv
import io
import json
import random
import string
import time
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups import schema
from backups.archive import BackupRefused, backup_encrypted, backup_open
from backups.services import RestoreOptions, backup_create, backup_restore
from cars_app.models import Car

from .conftest import dump
from .zip_helpers import altered, read_members, with_hidden_entries, write_zip

QUICK_SECONDS = 5


@pytest.fixture
def refused_quickly(account):
    def check(path, message: str) -> str:
        before = dump(account)
        started = time.monotonic()
        with pytest.raises(BackupRefused, match=message) as raised:
            backup_restore(user=account, source=path, mode="replace")
        assert time.monotonic() - started < QUICK_SECONDS
        assert dump(account) == before
        assert len(str(raised.value)) < 500
        return str(raised.value)

    return check


def cars_csv(count: int) -> bytes:
    lines = [",".join(schema.CARS_COLUMNS)]
    lines += [f"{i},Car {i},Kia,Niro EV,64.8,,0,1,months,,1" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def sessions_csv(rows: list[tuple[int, int]]) -> bytes:
    """(car id, odometer) per row."""
    lines = [",".join(schema.SESSIONS_COLUMNS)]
    lines += [f"{car},2025-01-01,{odometer},AC,,,,20,,,,,,,,," for car, odometer in rows]  # (times blank)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
def test_a_zip_of_70000_entries_is_refused_before_its_directory_is_read(refused_quickly, tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(70_000):
            archive.writestr(f"f{i}", b"")
    refused_quickly(path, "The ZIP holds 70,000 entries; a PlugTrack backup holds exactly 5")


@pytest.fixture(params=[None, "correct horse battery"], ids=["plain", "encrypted"])
def hidden_entries(request, account, tmp_path) -> tuple[Path, str | None]:
    """A backup (plain, or encrypted by pyzipper) whose central directory holds 1,000,005 entries while
    its end record says 5 (a 54 MB file), and its passphrase."""
    passphrase = request.param
    backup = Path(backup_create(user=account, target=tmp_path / "alice.zip", passphrase=passphrase).path)
    return with_hidden_entries(backup, tmp_path / "hidden.zip", 1_000_000), passphrase


HIDDEN_MESSAGE = "The ZIP holds more than 100 entries, though its end record says 5: the file was altered or damaged"


@pytest.mark.slow
def test_entries_hidden_from_the_end_record_are_counted_and_refused_at_the_limit(hidden_entries):
    path, passphrase = hidden_entries
    started = time.monotonic()
    with pytest.raises(BackupRefused, match=HIDDEN_MESSAGE) as raised:
        backup_open(path, passphrase=passphrase)
    assert not backup_encrypted(path)  # (not a backup: the command then asks no passphrase, and opening it refuses it)
    assert time.monotonic() - started < 2  # not the 21 s of reading a million entries
    assert len(str(raised.value)) < 300


@pytest.mark.slow
def test_entries_hidden_from_the_end_record_refuse_a_restore(refused_quickly, hidden_entries):
    refused_quickly(hidden_entries[0], HIDDEN_MESSAGE)


@pytest.mark.slow
def test_entries_hidden_from_the_end_record_make_the_command_exit_2_with_a_short_message(hidden_entries):
    started = time.monotonic()
    with pytest.raises(CommandError, match=HIDDEN_MESSAGE) as raised:
        call_command("backup_restore", "--from", str(hidden_entries[0]), "--dry-run", stdout=StringIO())
    assert raised.value.returncode == 2
    assert time.monotonic() - started < 2 and len(str(raised.value)) < 300


def test_unexpected_members_within_the_entry_limit_are_named_a_few_and_counted(refused_quickly, backup_path, tmp_path):
    within = with_hidden_entries(Path(backup_path), tmp_path / "within.zip", schema.MAX_ZIP_ENTRIES - 5)
    message = refused_quickly(within, "unexpected: x0000000, x0000001, x0000002 and 92 more\\). Expected: manifest")
    assert len(message) < 300


def test_a_manifest_counting_more_sessions_than_a_restore_reads_is_refused_before_they_are_read(
    refused_quickly, backup_path, tmp_path
):
    members = read_members(backup_path)
    manifest = json.loads(members["manifest.json"])
    manifest["counts"]["sessions"] = schema.MAX_SESSIONS + 1
    changed = {"manifest.json": json.dumps(manifest).encode(), "sessions.csv": b"\xff not UTF-8: never read"}
    message = refused_quickly(
        write_zip(tmp_path / "claims.zip", members | changed, reseal=False),
        "manifest.json counts 500,001 sessions; one restore reads at most 500,000, so nothing was restored",
    )
    assert "MAX_ROWS in sessions_app/imports/importer.py" in message  # what whoever runs PlugTrack can do


def test_more_sessions_than_the_manifest_counts_are_refused_as_soon_as_they_pass_it(
    refused_quickly, backup_path, tmp_path
):
    """The issue's file: a small ZIP within every limit whose sessions.csv holds millions of rows kept
    the worker busy for minutes. Here 300,000 rows (10 MB) under a manifest that counts 3."""
    members = read_members(backup_path)
    car_id = next(csv.DictReader(io.StringIO(members["cars.csv"].decode())))["id"]
    sessions = sessions_csv([(car_id, odometer) for odometer in range(300_000)])
    started = time.monotonic()
    refused_quickly(
        write_zip(tmp_path / "more.zip", members | {"sessions.csv": sessions}, reseal=False),
        "sessions.csv line 5: there are more sessions than the 3 manifest.json counts: the backup was altered",
    )
    assert time.monotonic() - started < 1  # not the whole file's scan


@pytest.mark.parametrize("counts", [{"cars": 2, "settings": 8}, {"sessions": "3"}, {"sessions": -1}, "3"])
def test_a_manifest_without_a_valid_count_of_sessions(refused_quickly, backup_path, tmp_path, counts):
    members = read_members(backup_path)
    manifest = json.loads(members["manifest.json"]) | {"counts": counts}
    refused_quickly(
        write_zip(tmp_path / "bad.zip", members | {"manifest.json": json.dumps(manifest).encode()}, reseal=False),
        "manifest.json has no valid count of sessions: the backup was altered or damaged.",
    )


def test_more_cars_than_a_backup_holds(refused_quickly, backup_path, tmp_path):
    bad = altered(
        backup_path,
        tmp_path / "fleet.zip",
        {"cars.csv": cars_csv(schema.MAX_CARS + 1), "sessions.csv": sessions_csv([])},
    )
    refused_quickly(bad, "cars.csv has more than 1,000 cars")


@pytest.mark.slow
def test_a_thousand_cars_restore_with_one_key_store(account, backup_path, tmp_path, opened_key_stores):
    rows = [(car, 1000 + i) for car in range(schema.MAX_CARS) for i in range(2)]
    fleet = altered(
        backup_path, tmp_path / "fleet.zip", {"cars.csv": cars_csv(schema.MAX_CARS), "sessions.csv": sessions_csv(rows)}
    )
    started = time.monotonic()
    report = backup_restore(user=account, source=fleet, options=RestoreOptions(dry_run=True))
    assert report.ok and (report.cars.inserted, report.sessions.inserted) == (1000, 2000)
    assert len(opened_key_stores) == 1 and opened_key_stores[0].closed
    assert time.monotonic() - started < QUICK_SECONDS * 2
    assert backup_restore(user=account, source=fleet, mode="replace").ok
    assert Car.objects.filter(user=account).count() == 1000


def test_one_enormous_cell_within_the_compression_ratio(refused_quickly, backup_path, tmp_path):
    noise = "".join(random.Random(1).choices(string.ascii_letters, k=2_000_000))  # compresses about 1.3 to 1
    sessions = sessions_csv([(0, 1)]).replace(b",,\n", f',"{noise}"\n'.encode(), 1)
    bad = altered(backup_path, tmp_path / "cell.zip", {"sessions.csv": sessions})
    refused_quickly(bad, "sessions.csv, line 2: the row is longer than 65,536 characters")


def test_sessions_not_grouped_by_car(refused_quickly, backup_path, tmp_path):
    members = read_members(backup_path)
    car_ids = [row["id"] for row in csv.DictReader(io.StringIO(members["cars.csv"].decode()))]
    interleaved = sessions_csv([(car_ids[0], 1), (car_ids[1], 2), (car_ids[0], 3)])
    bad = altered(backup_path, tmp_path / "mixed.zip", {"sessions.csv": interleaved})
    refused_quickly(bad, f"sessions.csv line 4: the sessions of car {car_ids[0]} are not together")


@pytest.mark.parametrize(
    ("member", "content"),
    [
        ("manifest.json", b"[" * 30_000 + b"]" * 30_000),
        ("settings.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
        ("settings.json", json.dumps({"a": [[[[[[[[[[["too deep"]]]]]]]]]]]}).encode()),
    ],
    ids=["manifest 30,000 deep", "settings 100,000 deep", "settings 12 deep"],
)
def test_json_nested_too_deeply(refused_quickly, backup_path, tmp_path, member, content):
    deep = altered(backup_path, tmp_path / "deep.zip", {member: content}, reseal=member != "manifest.json")
    refused_quickly(deep, f"{member} is nested more than 10")


def test_a_manifest_over_its_size_limit(refused_quickly, backup_path, tmp_path):
    members = read_members(backup_path)
    manifest = json.loads(members["manifest.json"]) | {"padding": "x" * 70_000}
    bad = write_zip(tmp_path / "big.zip", members | {"manifest.json": json.dumps(manifest).encode()}, reseal=False)
    refused_quickly(bad, "manifest.json would unpack to [0-9,]+ bytes, over the limit of 65,536")


def test_a_checksum_entry_of_the_wrong_shape_is_refused_not_a_crash(refused_quickly, backup_path, tmp_path):
    members = read_members(backup_path)
    manifest = json.loads(members["manifest.json"])
    manifest["members"]["cars.csv"] = "not an object"
    bad = write_zip(tmp_path / "odd.zip", members | {"manifest.json": json.dumps(manifest).encode()}, reseal=False)
    refused_quickly(bad, "cars.csv does not match the checksum")


def test_thousands_of_unknown_settings_make_one_warning(account, backup_path, tmp_path):
    settings = json.loads(read_members(backup_path)["settings.json"]) | {f"future_{i}": "1" for i in range(5_000)}
    path = altered(backup_path, tmp_path / "future.zip", {"settings.json": json.dumps(settings).encode()})
    report = backup_restore(user=account, source=path, options=RestoreOptions(dry_run=True))
    assert report.ok
    assert report.warnings == [
        '5,000 setting(s) unknown to this version of PlugTrack were left out: "future_0", "future_1", "future_2", '
        '"future_3", "future_4" and 4,995 more.'
    ]


def test_sessions_of_more_cars_than_a_backup_holds_are_refused_while_scanning(refused_quickly, backup_path, tmp_path):
    sessions = sessions_csv([(car, 1) for car in range(schema.MAX_CARS + 1)])  # ids cars.csv lacks, all different
    refused_quickly(
        altered(backup_path, tmp_path / "ids.zip", {"sessions.csv": sessions}),
        "sessions.csv line 1002: the sessions belong to more than 1,000 cars",
    )


def test_a_car_whose_number_python_cannot_read_is_refused_not_a_crash(refused_quickly, backup_path, tmp_path):
    cars = read_members(backup_path)["cars.csv"].replace(b",1,months,", b"," + b"9" * 5_000 + b",months,", 1)
    message = refused_quickly(
        altered(backup_path, tmp_path / "digits.zip", {"cars.csv": cars}),
        "recommended_full_charge_frequency_value .* is not a whole number",
    )
    assert len(message) < 200

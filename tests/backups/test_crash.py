"""Crash hygiene: a backup or a replace restore killed mid-way (SIGKILL, as a power cut or the
out-of-memory killer would) leaves the database exactly as before, no record without its file,
and at worst a temporary file that the next backup sweeps once it is an hour old."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.db import DatabaseError

from backups.models import Backup
from backups.services import RestoreOptions, backup_create, backup_restore, backups_delete
from cars_app.models import Car
from jobs.models import Job
from jobs.services import job_start
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.files import STALE_AFTER_SECONDS, TEMPORARY_SUFFIX
from sessions_app.models import ChargingSession
from sessions_app.services import sessions_sequence_recompute

from ..processes import manage
from .conftest import dump

pytestmark = pytest.mark.django_db(transaction=True)


def big_account(owner, sessions: int = 20_000):
    car = Car.objects.create(user=owner, name="Niro", make="Kia", model="Niro EV", battery_kwh=64)
    ChargingSession.objects.bulk_create(
        ChargingSession(user=owner, car=car, date=f"{1990 + i // 2000}-01-01", odometer=i, charge_type="AC",
                        charge_delivered_kwh=20, notes="a note that makes the file a little longer " * 2)
        for i in range(sessions)
    )  # fmt: skip
    sessions_sequence_recompute(car_ids=[car.pk], rows_written=sessions)  # as a writer of that many says
    return car


def killed_when(command: list[str], appears: str, folder: Path, data_dir: Path) -> None:
    """Run a command and SIGKILL it as soon as a file matching `appears` is in `folder`."""
    process = manage(*command, data_dir=data_dir)
    deadline = time.monotonic() + 60
    while not any(folder.glob(appears)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {appears} appeared"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


WRITING = f".*{TEMPORARY_SUFFIX}"


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.slow
def test_a_backup_killed_mid_write_leaves_no_record_and_its_leftover_is_swept_later(owner, tmp_path):
    big_account(owner)
    folder = tmp_path / "out"
    folder.mkdir()
    killed_when(["backup_create", "--to", str(folder)], WRITING, folder, tmp_path / "data")

    assert not Backup.objects.exists()
    [leftover] = folder.iterdir()
    assert leftover.name.startswith(".plugtrack_backup_alice_") and leftover.name.endswith(TEMPORARY_SUFFIX)

    backup_create(user=owner, target=folder)  # younger than an hour: it may be a running backup's
    assert leftover.exists()
    age(leftover, STALE_AFTER_SECONDS + 60)
    backup = backup_create(user=owner, target=folder)
    assert not leftover.exists()
    assert sorted(path.name for path in folder.iterdir()) == sorted(Path(b.path).name for b in Backup.objects.all())
    assert Path(backup.path).is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    "killed_when_appears", [WRITING, "*.zip"], ids=["writing its automatic backup", "restoring after it"]
)
def test_a_replace_restore_killed_mid_way_leaves_the_account_exactly_as_before(
    owner, tmp_path, settings, killed_when_appears
):
    big_account(owner)
    backup = backup_create(user=owner, target=tmp_path / "before.zip")
    Car.objects.create(user=owner, name="Later", make="Renault", model="Zoe", battery_kwh=52)
    before = dump(owner)
    data_dir = tmp_path / "data"
    automatic_folder = data_dir / "backups" / str(owner.pk)
    automatic_folder.mkdir(parents=True)

    command = ["backup_restore", "--from", backup.path, "--mode", "replace", "--no-input", "--user", "alice"]
    killed_when(command, killed_when_appears, automatic_folder, data_dir)

    assert dump(owner) == before
    assert not Backup.objects.filter(kind="automatic").exists()
    # What the kill left (a half-written automatic backup, or a whole one killed after its rename,
    # before the commit: no record names it) goes with the next backup operation, once an hour old.
    for leftover in automatic_folder.iterdir():
        age(leftover, STALE_AFTER_SECONDS + 60)
    settings.PLUGTRACK_DATA_DIR = data_dir
    backup = backup_create(user=owner)
    assert [path.name for path in automatic_folder.iterdir()] == [Path(backup.path).name]


def test_a_backup_whose_record_cannot_be_written_leaves_no_file_and_an_older_one_as_it_was(
    owner, make_car, tmp_path, monkeypatch
):
    make_car(owner)
    older = tmp_path / "alice.zip"
    older.write_bytes(b"last week's backup")

    def refused(**fields):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(Backup.objects, "create", refused)
    with pytest.raises(PlugTrackError, match="The backup could not be written, so none was kept"):
        backup_create(user=owner, target=older)
    assert [path.name for path in tmp_path.iterdir()] == ["alice.zip"]
    assert older.read_bytes() == b"last week's backup"


@pytest.mark.parametrize("operation", ["merge restore", "dry-run restore", "backup delete"])
def test_every_backup_operation_sweeps_stale_temporaries_from_the_owners_backups_folder(
    owner, tmp_path, settings, operation
):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    elsewhere = backup_create(user=owner, target=tmp_path / "mine.zip")
    folder = tmp_path / "data" / "backups" / str(owner.pk)
    folder.mkdir(parents=True)
    stale = [
        folder / f".plugtrack_backup_alice_20261101T000000Z.zip.abc123{TEMPORARY_SUFFIX}",
        folder / ".plugtrack_backup_alice_20261101T000000000000Z.zip.k3j2h1.tmp",  # as earlier versions named it
    ]
    young, not_ours = folder / f".plugtrack_backup_alice_now.zip.x{TEMPORARY_SUFFIX}", folder / "notes.tmp"
    for path in [*stale, young, not_ours]:
        path.write_bytes(b"PK half a zip")
    for path in [*stale, not_ours]:
        age(path, STALE_AFTER_SECONDS + 60)

    if operation == "backup delete":
        backups_delete(Backup.objects.filter(pk=elsewhere.pk))
    else:
        backup_restore(
            user=owner, source=elsewhere.path, mode="merge",
            options=RestoreOptions(dry_run=operation == "dry-run restore"),
        )

    assert sorted(path.name for path in folder.iterdir()) == sorted([young.name, not_ours.name])


def test_a_backup_is_on_disk_before_its_name_is(owner, tmp_path, monkeypatch):
    """The file is flushed to disk before the rename, and the folder after it (so a power cut
    leaves either the old name or the whole new file)."""
    synced = []
    real_fsync = os.fsync

    def fsync(descriptor):
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    backup = backup_create(user=owner, target=tmp_path / "mine.zip")
    [data, folder] = synced
    assert data.name.startswith(".mine.zip.") and data.name.endswith(TEMPORARY_SUFFIX)  # before the rename
    assert folder == tmp_path and Path(backup.path).is_file()


def test_a_backup_job_whose_outcome_cannot_be_recorded_leaves_a_zip_that_the_next_operation_sweeps(
    owner, tmp_path, settings, monkeypatch
):
    """The job's transaction (the Backup record with it) rolls back after the ZIP took its name."""
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    folder = tmp_path / "data" / "backups" / str(owner.pk)

    def outcome_lost(*args, **kwargs):
        raise DatabaseError("disk I/O error")

    with monkeypatch.context() as patched:
        patched.setattr("jobs.services.job_outcome_record", outcome_lost)
        job = job_start(user=owner, kind=Job.Kind.BACKUP_CREATE, phase=Job.Phase.RUN)  # runs at once in tests
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and not Backup.objects.exists()  # (the job page marks it failed)
    [unrecorded] = folder.glob("plugtrack_backup_*.zip")

    backup_restore(
        user=owner, source=backup_create(user=owner, target=tmp_path / "mine.zip").path,
        options=RestoreOptions(dry_run=True),
    )
    assert unrecorded.exists()  # younger than an hour: it may be a running backup's
    age(unrecorded, STALE_AFTER_SECONDS + 60)
    backup_restore(user=owner, source=tmp_path / "mine.zip", options=RestoreOptions(dry_run=True))
    assert not unrecorded.exists()

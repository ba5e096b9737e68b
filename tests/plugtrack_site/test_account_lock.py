"""One writer per account, tried with real processes on the test database (SQLite or PostgreSQL):
what each operation reported as written is afterwards in the database or in the automatic
backup, and an operation that waits too long says so and leaves nothing behind."""

import csv
import io
import threading
import time
import zipfile
from decimal import Decimal

import pytest
from django.db import connections
from django.urls import reverse

from backups.models import Backup
from backups.services import backup_create, writing
from cars_app.models import Car
from sessions_app.models import ChargingSession
from sessions_app.services import car_save, charging_session_save

from ..processes import (
    AccountLockHeld,
    busy_timeout_of_one_second,
    finished,
    finished_json,
    manage,
)
from ..sessions_app.csv_helpers import session_row, write_csv

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BUSY = "Another import, restore or backup is running on"


def sessions_file(folder, count: int, first_odometer: int = 20_000):
    rows = [
        session_row(date=f"{2020 + i // 336}-{1 + i // 28 % 12:02}-{1 + i % 28:02}", odometer=str(first_odometer + i))
        for i in range(count)
    ]
    return write_csv(folder, rows, name=f"import_{count}.csv")


def keys_in_database(user) -> set[tuple[str, int]]:
    return {
        (str(date), odometer)
        for date, odometer in ChargingSession.objects.filter(user=user).values_list("date", "odometer")
    }


def keys_in_backup(path) -> set[tuple[str, int]]:
    with zipfile.ZipFile(path) as archive:
        rows = csv.DictReader(io.StringIO(archive.read("sessions.csv").decode()))
        return {(row["date"], int(row["odometer"])) for row in rows}


@pytest.mark.parametrize("first", ["import", "restore"])
def test_an_import_and_a_replace_restore_at_once_lose_no_session(owner, make_car, make_session, tmp_path, first):
    car = make_car(owner, name="Niro")
    make_session(car, "2019-01-01", 1000)
    backup = backup_create(user=owner, target=tmp_path / "before.zip")
    imported_file = sessions_file(tmp_path, 2000)
    commands = {
        "import": ["sessions_import", "--from", str(imported_file), "--car", str(car.pk), "--json"],
        "restore": ["backup_restore", "--from", backup.path, "--mode", "replace", "--no-input", "--json"],
    }
    order = [first, *(name for name in commands if name != first)]

    # Both wait for the lock another process holds, then run one after the other when it goes.
    with AccountLockHeld(owner.pk, data_dir=tmp_path):
        processes = {}
        for name in order:
            processes[name] = manage(*commands[name], "--user", "alice", data_dir=tmp_path)
            time.sleep(1.5)  # so that they queue in this order (PostgreSQL grants in order)
    import_code, import_report = finished_json(processes["import"])
    restore_code, restore_report = finished_json(processes["restore"])

    assert restore_code == 0 and restore_report["ok"], restore_report
    automatic = restore_report["automatic_backup"]
    assert Backup.objects.filter(kind="automatic", path=automatic).exists()
    if import_code == 0:
        assert import_report["inserted"] == 2000
        imported = {(row["date"], int(row["odometer"])) for row in csv.DictReader(imported_file.open())}
        # Every session the import reported is kept somewhere the owner can get it back from.
        assert imported <= keys_in_database(owner) | keys_in_backup(automatic)
    else:  # the restore ran first and replaced the car the import was meant for
        assert import_code == 2 and "no longer exists" in import_report["error"]
        assert keys_in_database(owner) == {("2019-01-01", 1000)}


@pytest.mark.parametrize(
    "command",
    [
        ["sessions_import", "--from", "{csv}"],
        ["backup_create", "--to", "{out}"],
        ["backup_restore", "--from", "{zip}", "--mode", "replace", "--no-input"],
    ],
    ids=["import", "backup", "replace restore"],
)
def test_an_operation_that_waits_too_long_says_so_and_changes_nothing(owner, make_car, make_session, tmp_path, command):
    make_session(make_car(owner, name="Niro"), "2019-01-01", 1000)
    paths = {
        "csv": str(sessions_file(tmp_path, 10)),
        "zip": backup_create(user=owner, target=tmp_path / "before.zip").path,
        "out": str(tmp_path / "out"),
    }
    (tmp_path / "out").mkdir()
    data_dir = tmp_path / "data"
    backups_before = Backup.objects.count()

    with AccountLockHeld(owner.pk, data_dir=data_dir):
        started = time.monotonic()
        code, stdout, stderr = finished(
            manage(*[part.format(**paths) for part in command], data_dir=data_dir, lock_wait_seconds=1)
        )
        waited = time.monotonic() - started

    assert code == 2, stderr
    assert BUSY in stderr and "Traceback" not in stderr
    assert waited < 15
    assert ChargingSession.objects.count() == 1 and Backup.objects.count() == backups_before
    assert not any((tmp_path / "out").iterdir())  # no backup file, no temporary file
    assert not data_dir.exists() or not any(data_dir.rglob("*.zip*"))


def test_two_imports_of_one_file_at_once_store_each_row_once(owner, make_car, tmp_path):
    car = make_car(owner, name="Niro")
    path = sessions_file(tmp_path, 1000)
    processes = [manage("sessions_import", "--from", str(path), "--json", data_dir=tmp_path) for _ in range(2)]
    reports = [finished_json(process) for process in processes]

    assert [code for code, _ in reports] == [0, 0]
    assert sorted((report["inserted"], report["skipped_duplicates"]) for _, report in reports) == [(0, 1000), (1000, 0)]
    assert ChargingSession.objects.filter(car=car).count() == 1000
    assert ChargingSession.objects.filter(car=car, is_baseline=True).count() == 1


def test_a_car_and_session_saved_during_a_backup_wait_for_it(owner, make_car, make_session, tmp_path, monkeypatch):
    make_session(make_car(owner, name="Niro"), "2025-01-01", 1000)
    saved = threading.Event()

    def add_car_and_session():  # the admin's save, on its own connection
        try:
            car = car_save(car=Car(user=owner, name="Zoe", make="Renault", model="Zoe", battery_kwh=Decimal("52")))
            charging_session_save(
                session=ChargingSession(
                    car=car, date="2025-02-01", odometer=5000, charge_type="AC", charge_delivered_kwh=20
                )
            )
            saved.set()
        finally:
            connections.close_all()

    writer = threading.Thread(target=add_car_and_session)
    real_write_members = writing.members_write

    def write_members_while_another_saves(archive, user):
        writer.start()
        time.sleep(1)  # the writer is now waiting for the lock
        assert not saved.is_set()
        return real_write_members(archive, user)

    monkeypatch.setattr(writing, "members_write", write_members_while_another_saves)
    backup = backup_create(user=owner, target=tmp_path / "alice.zip")
    writer.join(timeout=60)

    assert saved.is_set()  # the save went ahead once the backup was written
    assert (backup.cars, backup.sessions) == (1, 1)
    assert Car.objects.filter(user=owner).count() == 2


def test_an_admin_save_that_waits_too_long_gets_a_busy_page_not_an_error(
    owner_client, owner, make_car, tmp_path, settings
):
    car = make_car(owner, name="Niro")
    settings.PLUGTRACK_LOCK_WAIT_SECONDS = 1
    form = {name: value for name, value in session_row().items() if value} | {"car": car.pk}
    with AccountLockHeld(owner.pk, data_dir=tmp_path), busy_timeout_of_one_second():
        response = owner_client.post(reverse("admin:sessions_app_chargingsession_add"), form)
    assert response.status_code == 503
    assert BUSY in response.content.decode()
    assert not ChargingSession.objects.exists()

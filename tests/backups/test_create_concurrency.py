"""A backup describes one moment even while the user goes on writing.

Needs a database with real concurrent transactions: PostgreSQL (CI runs the suite on it).
"""

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from backups.services import backup_create, backup_restore
from cars_app.models import Car
from sessions_app.models import ChargingSession

from .zip_helpers import read_members

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite serialises them)"
)


@pytest.mark.django_db(transaction=True)
def test_a_car_and_session_added_while_a_backup_is_written_are_not_half_in_it(
    owner, make_car, make_session, tmp_path, monkeypatch
):
    make_session(make_car(owner, name="Niro"), "2025-01-01", 1000)

    def add_car_and_session():
        try:
            car = Car.objects.create(user=owner, name="Zoe", make="Renault", model="Zoe", battery_kwh=Decimal("52"))
            ChargingSession.objects.create(
                user=owner, car=car, date="2025-02-01", odometer=5000, charge_type="AC", charge_delivered_kwh=20
            )
        finally:
            connections.close_all()

    real_dumps = json.dumps

    def dumps_after_another_write(value, **kwargs):
        # Called for settings.json: after cars.csv is written, before the sessions are read.
        if "petrol_mpg" in value:
            writer = threading.Thread(target=add_car_and_session)
            writer.start()
            writer.join()
        return real_dumps(value, **kwargs)

    monkeypatch.setattr("backups.services.json.dumps", dumps_after_another_write)
    backup = backup_create(user=owner, target=tmp_path / "alice.zip")
    monkeypatch.undo()

    assert Car.objects.filter(user=owner).count() == 2  # the other write did happen
    assert (backup.cars, backup.sessions) == (1, 1)
    sessions_csv = read_members(backup.path)["sessions.csv"].decode()
    assert "5000" not in sessions_csv
    assert backup_restore(user=owner, source=backup.path, dry_run=True).ok

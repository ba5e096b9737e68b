import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from cars_app.models import Car
from plugtrack_site.accounts import owner_account_ensure
from sessions_app.imports.seen_keys import SeenKeys
from sessions_app.models import ChargingSession
from sessions_app.services import sessions_sequence_recompute


@pytest.fixture(autouse=True)
def data_folder(settings, tmp_path):
    """PlugTrack's data folder (uploads, backups, job progress) is the test's own, never the repository's."""
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"


@pytest.fixture
def owner(db) -> User:
    """A staff user in the owners group: what a person using PlugTrack is."""
    user, _ = owner_account_ensure(username="alice", password="alice-password")
    return user


@pytest.fixture
def other_owner(db) -> User:
    user, _ = owner_account_ensure(username="bob", password="bob-password")
    return user


@pytest.fixture
def make_car():
    def make(user: User, **fields) -> Car:
        values = {"make": "Kia", "model": "Niro EV", "battery_kwh": Decimal("64.8")} | fields
        return Car.objects.create(user=user, **values)

    return make


@pytest.fixture
def make_session():
    """Create sessions the way every write path does: saved, then the car's baseline recomputed."""

    def make(car: Car, date: str | dt.date, odometer: int, kwh: str | Decimal = "30", **fields) -> ChargingSession:
        values = {"charge_type": "AC"} | fields
        session = ChargingSession.objects.create(
            user=car.user,
            car=car,
            date=dt.date.fromisoformat(date) if isinstance(date, str) else date,
            odometer=odometer,
            charge_delivered_kwh=Decimal(kwh),
            **values,
        )
        sessions_sequence_recompute(car_ids=[car.pk])
        session.refresh_from_db()
        return session

    return make


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def opened_key_stores(monkeypatch) -> list[SeenKeys]:
    """Every SeenKeys (an import's temporary key file) opened during the test, to check they are
    all closed again."""
    opened = []

    def tracked() -> SeenKeys:
        opened.append(SeenKeys())
        return opened[-1]

    monkeypatch.setattr("sessions_app.imports.importer.SeenKeys", tracked)
    return opened

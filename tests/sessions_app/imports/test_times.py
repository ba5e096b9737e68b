"""A session's start and end (started_at, ended_at): optional, time-zone aware; the date stays the
session's local date and part of the duplicate key. The CSV writes them after the 14 columns only
when asked (--with-times); an import takes either header; a backup carries them (schema 4)."""

import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from backups.services import backup_create, backup_restore
from sessions_app.imports.csv_format import FIELDS, HEADER
from sessions_app.imports.csv_io import charging_sessions_export, charging_sessions_import
from sessions_app.models import ChargingSession

from ..csv_helpers import read_csv, session_row, write_csv

FIXTURES = Path(__file__).parent.parent.parent / "backups" / "fixtures"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def timed(owner, make_car, make_session):
    """A night charge across the clocks going forward (28→29 March 2026) and one with no times."""
    car = make_car(owner)
    make_session(car, "2026-03-28", 12000, "49", started_at=at("2026-03-28T22:30:00+00:00"),
                 ended_at=at("2026-03-29T06:30:00+01:00"))  # fmt: skip
    make_session(car, "2026-04-02", 12180, "20")
    return car


def test_the_export_keeps_its_14_columns_unless_asked_for_the_times(owner, timed, tmp_path):
    charging_sessions_export(user=owner, target=tmp_path / "plain.csv")
    assert list(read_csv(tmp_path / "plain.csv")[0]) == list(HEADER)
    call_command("sessions_export", "--to", str(tmp_path / "timed.csv"), "--with-times", stdout=StringIO())
    rows = read_csv(tmp_path / "timed.csv")
    assert list(rows[0]) == list(FIELDS)
    assert (rows[0]["started_at"], rows[0]["ended_at"]) == ("2026-03-28T22:30:00+00:00", "2026-03-29T06:30:00+01:00")
    assert (rows[1]["started_at"], rows[1]["ended_at"]) == ("", "")


def test_times_survive_export_then_import_and_the_same_rows_are_duplicates(owner, timed, tmp_path):
    path = tmp_path / "timed.csv"
    charging_sessions_export(user=owner, target=path, with_times=True)
    assert charging_sessions_import(user=owner, car=timed, source=path).skipped_duplicates == 2
    ChargingSession.objects.all().delete()
    report = charging_sessions_import(user=owner, car=timed, source=path)
    assert report.ok and report.inserted == 2
    night = timed.sessions.get(date=dt.date(2026, 3, 28))
    assert night.ended_at - night.started_at == dt.timedelta(hours=7)  # 8 on the clock, 7 real hours
    again = tmp_path / "again.csv"
    charging_sessions_export(user=owner, target=again, with_times=True)
    assert again.read_bytes() == path.read_bytes()


def test_an_import_reads_an_offset_as_an_instant_and_a_time_without_one_as_local(owner, make_car, tmp_path):
    car = make_car(owner)
    rows = [
        session_row(date="2026-07-01", odometer="1000", started_at="2026-07-01T17:00:00Z", ended_at="2026-07-01 19:30"),
    ]
    report = charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows, header=FIELDS))
    assert report.ok, report.errors
    session = car.sessions.get()
    assert session.started_at == at("2026-07-01T17:00:00+00:00")
    assert session.ended_at == at("2026-07-01T19:30:00+01:00")  # London's summer time


@pytest.mark.parametrize(
    ("started", "ended", "field", "message"),
    [
        ("2026-07-01T19:00:00+01:00", "2026-07-01T18:00:00+01:00", "ended_at", "It ended (1 Jul 2026 18:00) before "
         "it started (1 Jul 2026 19:00)."),
        ("2026-07-02T00:30:00+01:00", "", "started_at", "It started on 2 Jul 2026 (local time), not on the "
         "session's date, 1 Jul 2026: correct one of them."),
        ("yesterday", "", "started_at", '"yesterday" is not a date and time in the form 2026-03-28T22:30:00+00:00.'),
    ],
)  # fmt: skip
def test_impossible_times_are_the_rows_error(owner, make_car, tmp_path, started, ended, field, message):
    rows = [session_row(date="2026-07-01", started_at=started, ended_at=ended)]
    report = charging_sessions_import(user=owner, car=make_car(owner), source=write_csv(tmp_path, rows, header=FIELDS))
    assert [(issue.field, issue.message) for issue in report.errors] == [(field, message)]


def test_the_admin_shows_and_edits_the_times(owner_client, timed):
    session = timed.sessions.get(date=dt.date(2026, 4, 2))
    url = reverse("admin:sessions_app_chargingsession_change", args=[session.pk])
    page = owner_client.get(url).content.decode()
    assert 'name="started_at_0"' in page and 'name="ended_at_1"' in page
    form = {"car": timed.pk, "date": "2026-04-02", "odometer": "12180", "charge_type": "AC",
            "charge_delivered_kwh": "20", "started_at_0": "2026-04-02", "started_at_1": "18:00:00",
            "ended_at_0": "2026-04-02", "ended_at_1": "21:15:00", "save_despite_checks": "on"}  # fmt: skip
    response = owner_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    session.refresh_from_db()
    assert session.ended_at - session.started_at == dt.timedelta(hours=3, minutes=15)


def test_a_backup_carries_the_times_and_an_older_one_restores_without_them(owner, timed, tmp_path):
    path = backup_create(user=owner, target=tmp_path / "b.zip").path
    ChargingSession.objects.all().delete()
    assert backup_restore(user=owner, source=path).sessions.inserted == 2
    assert timed.sessions.get(date=dt.date(2026, 3, 28)).started_at == at("2026-03-28T22:30:00+00:00")

    report = backup_restore(user=owner, source=FIXTURES / "backup_schema_v3.zip")  # made before the times
    assert report.ok and report.schema_version == 3
    zoe = owner.cars.get(name="Zoe")
    assert list(zoe.sessions.order_by("date").values_list("odometer", "started_at")) == [(15000, None), (15190, None)]
    assert zoe.sessions.get(odometer=15190).cost_per_kwh == Decimal("0.69")

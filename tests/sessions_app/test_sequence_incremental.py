"""A write recomputes only what it can change (`sessions_sequence_recompute` with `changed_dates`: the
sessions from the one before its earliest date, the months it touched) and an import reads only the
stored sessions next to its new rows for the plausibility warnings: the stored values and the warnings
must be exactly those of a recompute of everything, whatever the order the sessions come in."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app.imports.csv_io import charging_sessions_import
from sessions_app.imports.seen_keys import SeenKeys
from sessions_app.models import CHRONOLOGICAL, ChargingSession, MonthLabelTotal
from sessions_app.plausibility import CHECK_TEXTS, Check
from sessions_app.services import charging_session_save, charging_sessions_delete, sessions_sequence_recompute

from .csv_helpers import session_row, write_csv
from .test_sequence import assert_each_keeps_the_odometer_before_it

START = dt.date(2025, 1, 1)
# Few dates, odometers and kWh, so that sessions share dates and odometers, come out of order, are
# duplicates, and break the checks (75 kWh: more than the battery × 1.1; tiny kWh: too many miles).
SESSIONS = st.tuples(
    st.integers(0, 120),  # days after START: four months and a bit
    st.integers(0, 40).map(lambda step: 1000 + 25 * step),
    st.sampled_from(["0.5", "8", "20.5", "30", "75"]),
    st.sampled_from(["Home", "Tesco", "InstaVolt"]),
    st.sampled_from(["", "100"]),
)


def row(session) -> dict[str, str]:
    days, odometer, kwh, label, soc_to = session
    return session_row(date=(START + dt.timedelta(days=days)).isoformat(), odometer=str(odometer),
                       charge_delivered_kwh=kwh, location_label=label, soc_from="", soc_to=soc_to)  # fmt: skip


def stored(car) -> tuple[list, list]:
    """What the recompute keeps: each session's derived values, and the car's month totals."""
    sessions = car.sessions.order_by(*CHRONOLOGICAL).values_list("pk", "odometer_before", "is_baseline", "checks")
    totals = MonthLabelTotal.objects.filter(car=car).order_by("month", "location_label", "charge_network", "flagged")
    return list(sessions), [
        {name: value for name, value in total.items() if name != "id"} for total in totals.values()
    ]


def assert_as_a_full_recompute(car) -> None:
    incremental = stored(car)
    sessions_sequence_recompute(car_ids=[car.pk])  # everything again, from nothing known
    assert stored(car) == incremental
    assert_each_keeps_the_odometer_before_it(car)  # and both are what the rules in words say


def warnings_as_stored(report, car, flags_before: dict[int, int]) -> None:
    """The import's plausibility warnings name exactly the flags its new rows now have, and the new ones
    of the stored sessions next to them (worked out from a few stored sessions, before writing)."""
    said = sorted(
        (warning.kind, warning.message.startswith("Please check: the stored session"))
        for warning in report.warnings if warning.kind in CHECK_TEXTS.values()
    )  # fmt: skip
    expected = []
    for session in car.sessions.all():
        checks = session.checks & ~Check.IMPOSSIBLE
        is_stored = session.pk in flags_before
        if is_stored:
            checks &= ~flags_before[session.pk]
        expected += [(text, is_stored) for check, text in CHECK_TEXTS.items() if checks & check]
    assert said == sorted(expected)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.lists(SESSIONS, max_size=12),
    batches=st.lists(st.lists(SESSIONS, min_size=1, max_size=3), min_size=1, max_size=4),
    deleted=st.integers(0, 100),
    moved_by=st.integers(-60, 60),
)
def test_sessions_imported_in_any_order_are_stored_as_a_full_recompute_would(
    owner, make_car, tmp_path, first, batches, deleted, moved_by
):
    car = make_car(owner, name=f"Car {ChargingSession.objects.count()}")  # a new car for each example
    if first:
        charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, [row(s) for s in first]))
        assert_as_a_full_recompute(car)
    for number, batch in enumerate(batches):
        flags_before = dict(car.sessions.values_list("pk", "checks"))
        source = write_csv(tmp_path, [row(s) for s in batch], name=f"batch{number}.csv")
        report = charging_sessions_import(user=owner, car=car, source=source)
        assert report.ok
        warnings_as_stored(report, car, flags_before)
        assert_as_a_full_recompute(car)
    sessions = list(car.sessions.order_by(*CHRONOLOGICAL))
    edited = sessions[deleted % len(sessions)] if sessions else None
    if edited:  # an edit in the admin moves it in time: both dates changed
        edited.date += dt.timedelta(days=moved_by)
        edited.charge_delivered_kwh = Decimal("30")  # (not a duplicate of another one now)
        if not car.sessions.filter(date=edited.date, odometer=edited.odometer, charge_delivered_kwh=30).exists():
            charging_session_save(session=edited)
            assert_as_a_full_recompute(car)
    if len(sessions) > 1:
        charging_sessions_delete(sessions=[sessions[(deleted + 1) % len(sessions)]])
        assert_as_a_full_recompute(car)


def test_a_session_before_the_first_takes_the_baseline_and_months_apart_are_summed_again(
    owner, make_car, make_session, tmp_path
):
    car = make_car(owner)
    for month in (3, 6, 9):
        make_session(car, f"2025-{month:02}-10", 1000 * month, soc_to=100)
    rows = [session_row(date="2025-01-05", odometer="100"), session_row(date="2025-12-01", odometer="9500")]
    rows.append(session_row(date="2025-06-10", odometer="6000", charge_delivered_kwh="10"))  # same date and odometer
    assert charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows)).inserted == 3
    assert car.sessions.get(is_baseline=True).date == dt.date(2025, 1, 5)
    assert_as_a_full_recompute(car)


class CountingKeys(SeenKeys):
    read: list[int] = []

    def add_stored(self, sessions, *, scope):
        sessions = list(sessions)
        CountingKeys.read.append(len(sessions))
        super().add_stored(sessions, scope=scope)


def bulk_history(owner, car, count: int) -> None:
    """`count` sessions of `car`, one every three days from 2000 (a month or so apart for each ten),
    written at once and recomputed once, as a restore does."""
    ChargingSession.objects.bulk_create(
        ChargingSession(user=owner, car=car, date=dt.date(2000, 1, 1) + dt.timedelta(days=3 * i),
                        odometer=1000 + 40 * i, charge_type="AC", charge_delivered_kwh=10,
                        location_label="Home" if i % 3 else "Tesco")
        for i in range(count)
    )  # fmt: skip
    sessions_sequence_recompute(car_ids=[car.pk], rows_written=count)


@pytest.mark.parametrize("where", ["end", "middle"])
def test_one_new_session_reads_a_few_stored_sessions_and_costs_the_same_queries_however_many(
    owner, make_car, tmp_path, monkeypatch, where
):
    monkeypatch.setattr("sessions_app.imports.importer.SeenKeys", CountingKeys)
    queries, read = [], []
    for count in (30, 600):
        car = make_car(owner, name=f"{count} sessions")
        bulk_history(owner, car, count)
        day = dt.date(2000, 1, 1) + dt.timedelta(days=3 * (count if where == "end" else count // 2) + 1)
        odometer = 1000 + 40 * (count if where == "end" else count // 2) + 20
        source = write_csv(tmp_path, [session_row(date=day.isoformat(), odometer=str(odometer),
                                                  charge_delivered_kwh="5")])  # fmt: skip
        CountingKeys.read = []
        with CaptureQueriesContext(connection) as captured:
            assert charging_sessions_import(user=owner, car=car, source=source).inserted == 1
        queries.append(len(captured))
        read.append(sum(CountingKeys.read))
        assert_as_a_full_recompute(car)
    assert queries[0] == queries[1], queries
    assert read[1] <= 5, read  # the two before it and the two after it (none after at the end)

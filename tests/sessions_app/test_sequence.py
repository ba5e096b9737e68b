"""Each session keeps the odometer of the same car's session before it (`odometer_before`), and each
car its month totals, whichever path wrote, so that the sessions list reads miles per session and a
car's figures read a few sums instead of working them out from the car's history: a page costs the
same queries however long that history is."""

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backups.services import backup_create, backup_restore
from sessions_app.imports.csv_io import charging_sessions_import
from sessions_app.models import CHRONOLOGICAL, ChargingSession, MonthLabelTotal
from sessions_app.plausibility import Check
from sessions_app.services import charging_session_save, charging_sessions_delete, sessions_sequence_recompute

from .csv_helpers import session_row, write_csv


def assert_each_keeps_the_odometer_before_it(*cars) -> None:
    for car in cars:
        expected, previous = [], None
        for odometer in car.sessions.order_by(*CHRONOLOGICAL).values_list("odometer", flat=True):
            expected.append((odometer, previous))
            previous = odometer
        stored = list(car.sessions.order_by(*CHRONOLOGICAL).values_list("odometer", "odometer_before"))
        assert stored == expected
        assert list(car.sessions.order_by(*CHRONOLOGICAL).values_list("checks", flat=True)) == flags_worked_out(car)
        assert month_totals(car) == month_totals_worked_out(car)


def flags_worked_out(car) -> list[int]:
    """Each session's plausibility flags, worked out here from the rules in words (plausibility.py)."""
    sessions = list(car.sessions.order_by(*CHRONOLOGICAL))
    same_day_odometer = Counter((session.date, session.odometer) for session in sessions)
    flags = []
    for index, session in enumerate(sessions):
        previous = sessions[index - 1].odometer if index else None
        following = sessions[index + 1].odometer if index + 1 < len(sessions) else None
        miles, kwh = None if previous is None else session.odometer - previous, session.charge_delivered_kwh
        flags.append(
            (previous is not None and session.odometer < previous) * Check.ODOMETER_BELOW_PREVIOUS
            + (following is not None and session.odometer > following) * Check.ODOMETER_ABOVE_NEXT
            + (kwh > car.battery_kwh * Decimal("1.1")) * Check.KWH_ABOVE_BATTERY
            + (miles is not None and miles > 0 and not 1 <= miles / kwh <= 7 if kwh else bool(miles and miles > 0))
            * Check.EFFICIENCY_IMPLAUSIBLE
            + (same_day_odometer[(session.date, session.odometer)] > 1) * Check.SAME_DATE_AND_ODOMETER
        )
    return flags


TOTALS = ("sessions", "kwh_units", "cost_units", "priced_kwh_units", "efficiency_miles", "efficiency_kwh_units",
          "costed_miles", "costed_cost_units", "priced_sessions", "last_full_charge")  # fmt: skip
KEY = ("month", "location_label", "charge_network", "flagged")


def month_totals(car) -> dict:
    rows = MonthLabelTotal.objects.filter(car=car).values_list(*KEY, *TOTALS)
    return {tuple(row[: len(KEY)]): list(row[len(KEY) :]) for row in rows}


def month_totals_worked_out(car) -> dict:
    """The same totals, summed here one session at a time: a session counts for efficiency when it
    has a session before it and no plausibility flag."""
    totals, full_charges = defaultdict(lambda: [0] * (len(TOTALS) - 1)), {}
    previous = None
    for session, flags in zip(car.sessions.order_by(*CHRONOLOGICAL), flags_worked_out(car), strict=True):
        miles = None if previous is None else session.odometer - previous
        previous = session.odometer
        kwh = session.charge_delivered_kwh
        cost = ChargingSession.cost_of(session.total_cost_gbp, session.cost_per_kwh, kwh)
        counted = miles is not None and not flags
        key = (session.date.replace(day=1), session.location_label, session.charge_network, bool(flags))
        row = totals[key]
        for index, amount in enumerate((
            1, kwh * 1000, (cost or 0) * 10**7, kwh * 1000 if cost is not None else 0,
            miles if counted else 0, kwh * 1000 if counted else 0,
            miles if counted and cost is not None else 0, cost * 10**7 if counted and cost is not None else 0,
            cost is not None,
        )):  # fmt: skip
            row[index] += int(amount)
        full_charges[key] = max(
            filter(None, (full_charges.get(key), session.date if (session.soc_to or 0) >= 95 else None)), default=None
        )
    return {key: [*values, full_charges[key]] for key, values in totals.items()}


def test_every_write_path_keeps_the_previous_odometer_and_the_month_totals(owner, make_car, make_session, tmp_path):
    niro, zoe = make_car(owner, name="Niro"), make_car(owner, name="Zoe")
    make_session(niro, "2025-01-10", 1000, "20.5", cost_per_kwh="0.245", location_label="Home")
    make_session(niro, "2025-03-01", 1300, "80", total_cost_gbp="21.30", location_label="Tesco", soc_to=100)
    make_session(niro, "2025-03-04", 1400, "25", location_label="Tesco", soc_to=96)
    assert_each_keeps_the_odometer_before_it(niro)

    rows = [session_row(date="2025-02-01", odometer="1100"), session_row(date="2025-01-01", odometer="900")]
    rows.append(session_row(date="2025-02-09", odometer="1160", charge_delivered_kwh="15.25", cost_per_kwh=""))
    charging_sessions_import(user=owner, car=niro, source=write_csv(tmp_path, rows))  # into the middle, and first
    assert_each_keeps_the_odometer_before_it(niro)

    moved = niro.sessions.get(odometer=1100)
    moved.car = zoe
    charging_session_save(session=moved, previous_car_id=niro.pk)  # a move between cars: both change
    edited = niro.sessions.get(odometer=1300)
    edited.date = "2024-12-01"
    charging_session_save(session=edited)  # now the earliest
    assert_each_keeps_the_odometer_before_it(niro, zoe)

    charging_sessions_delete(sessions=[niro.sessions.get(odometer=900)])
    assert_each_keeps_the_odometer_before_it(niro, zoe)

    backup = backup_create(user=owner, target=tmp_path / "mine.zip")
    assert backup_restore(user=owner, source=backup.path, mode="replace").ok
    assert_each_keeps_the_odometer_before_it(*owner.cars.all())
    assert ChargingSession.objects.filter(odometer_before__isnull=True).count() == 2  # each car's first


def test_a_mistyped_odometer_of_millions_of_miles_is_stored_and_summed(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000)
    make_session(car, "2025-01-02", 5_000_000)  # a typo: the totals' miles × 1,000 go past 32 bits
    make_session(car, "2025-01-03", 1100)
    assert_each_keeps_the_odometer_before_it(car)


def list_page_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:sessions_app_chargingsession_changelist"), params)
    assert response.status_code == 200
    # No query looks into the car's other sessions per row (a subquery over the sessions table). Allowed:
    # the page's ids (IdsFirstPaginator), run once, and the date hierarchy's seek from one date to the next.
    for query in queries.captured_queries:
        if query["sql"].startswith("WITH RECURSIVE starts(day)"):
            continue
        page_ids = query["sql"].count('"id" IN (SELECT U0."id" AS "pk" FROM "sessions_app_chargingsession" U0')
        assert query["sql"].count('FROM "sessions_app_chargingsession"') <= 1 + page_ids
    return len(queries)


@pytest.mark.slow
def test_a_page_of_the_sessions_list_costs_the_same_queries_for_a_short_and_a_long_history(
    owner_client, owner, make_car
):
    short, long = make_car(owner, name="Short"), make_car(owner, name="Long")
    for car, count in ((short, 5), (long, 450)):
        ChargingSession.objects.bulk_create(
            ChargingSession(user=owner, car=car, date=f"{2000 + i // 300}-{1 + i // 25 % 12:02}-{1 + i % 25:02}",
                            odometer=1000 + 10 * i, charge_type="AC", charge_delivered_kwh=10,
                            location_label="Home" if i % 3 else "Tesco")
            for i in range(count)
        )  # fmt: skip
    sessions_sequence_recompute(car_ids=[short.pk, long.pk], rows_written=ChargingSession.objects.count())
    for variant in ({}, {"charge_type__exact": "AC"}, {"where": "home"}, {"q": "Tesco"}, {"o": "3"}):
        counts = {
            list_page_queries(owner_client, car__id__exact=short.pk, **variant),
            list_page_queries(owner_client, car__id__exact=long.pk, **variant),
            list_page_queries(owner_client, car__id__exact=long.pk, p="2", **variant),
        }
        assert len(counts) == 1, (variant, counts)
    page = owner_client.get(reverse("admin:sessions_app_chargingsession_changelist"), {"car__id__exact": long.pk})
    assert '<td class="field-miles">10</td>' in page.content.decode()  # read from the stored odometer before


def test_the_date_hierarchy_offers_the_years_months_and_days_django_would(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    for date, odometer in (("2023-12-31", 100), ("2025-02-01", 200), ("2025-02-01", 250), ("2025-07-15", 300)):
        make_session(car, date, odometer)
    sessions = ChargingSession.objects.filter(user=owner)
    for kind in ("year", "month", "day"):
        for order in ("ASC", "DESC"):
            assert list(sessions.dates("date", kind, order)) == list(QuerySet.dates(sessions, "date", kind, order))
        assert sessions.filter(pk__in=[]).dates("date", kind) == []  # a filter nothing can match
    html = owner_client.get(reverse("admin:sessions_app_chargingsession_changelist")).content.decode()
    assert "?date__year=2023" in html and "?date__year=2025" in html and "?date__year=2024" not in html


def test_a_large_import_refreshes_postgresqls_planner_statistics_before_recomputing(owner, make_car, tmp_path):
    """Planned on statistics from before the import (a car of one session), the recompute's join ran
    row by row for minutes on 20,000 new sessions; ANALYZE in the import's transaction sees them."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    rows = [session_row(date=f"{2000 + i // 300}-{1 + i // 25 % 12:02}-{1 + i % 25:02}", odometer=str(1000 + i))
            for i in range(1_500)]  # fmt: skip
    charging_sessions_import(user=owner, car=make_car(owner), source=write_csv(tmp_path, rows))
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'sessions_app_chargingsession'")
        assert cursor.fetchone()[0] >= 1_500

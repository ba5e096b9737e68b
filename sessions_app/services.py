"""Writes to charging sessions. Every write path ends by recomputing what follows from the sessions
of each car it touched (`sessions_sequence_recompute`: the baseline, each session's previous
odometer, the car's month totals), so those hold whoever wrote."""

import logging
from collections.abc import Iterable

from django.db import connection

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock

from .models import ChargingSession
from .totals import month_label_totals_rebuild

logger = logging.getLogger("plugtrack.sessions")


# After writing this many sessions at once, PostgreSQL's planner statistics are refreshed first.
ANALYZE_AFTER_ROWS = 1_000


def sessions_sequence_recompute(*, car_ids: Iterable[int], rows_written: int = 0) -> None:
    """Recompute what follows from the order of each car's sessions (by date, odometer, id): the
    earliest is the car's only baseline, and each session keeps the odometer of the one before it
    (one statement for all the cars, window functions, rewriting only rows whose values changed);
    then the cars' month totals, which count those miles."""
    car_ids = sorted(set(car_ids))
    if not car_ids:
        return
    table = connection.ops.quote_name(ChargingSession._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and rows_written >= ANALYZE_AFTER_ROWS:
            # Until autovacuum's next ANALYZE, PostgreSQL plans on statistics from before an import:
            # taking a car of 20,000 new sessions for one of a single session, it joined them below
            # row by row for minutes. ANALYZE in this transaction counts its own new rows.
            cursor.execute(f"ANALYZE {table}")
        cursor.execute(
            f"UPDATE {table} AS session "
            "SET odometer_before = earlier.odometer_before, is_baseline = earlier.is_first "
            "FROM (SELECT id, LAG(odometer) OVER chronological AS odometer_before, "
            "             ROW_NUMBER() OVER chronological = 1 AS is_first "
            f"     FROM {table} WHERE car_id IN ({', '.join(['%s'] * len(car_ids))}) "
            "      WINDOW chronological AS (PARTITION BY car_id ORDER BY date, odometer, id)) AS earlier "
            "WHERE session.id = earlier.id AND (session.odometer_before IS DISTINCT FROM earlier.odometer_before "
            "      OR session.is_baseline <> earlier.is_first)",
            car_ids,
        )
    month_label_totals_rebuild(car_ids=car_ids)


def charging_session_save(*, session: ChargingSession, previous_car_id: int | None = None) -> ChargingSession:
    """Save a new or edited session. `previous_car_id`: its car before the edit, if it moved."""
    session.user_id = session.car.user_id  # a session always belongs to its car's owner
    car_ids = [session.car_id] + ([previous_car_id] if previous_car_id else [])
    owners = Car.objects.filter(pk__in=car_ids).values_list("user_id", flat=True)  # a superuser may move it
    with account_write_lock(session.user_id, *owners):
        session.save()
        sessions_sequence_recompute(car_ids=car_ids)
    session.refresh_from_db(fields=["is_baseline"])
    return session


def charging_sessions_delete(*, sessions: Iterable[ChargingSession]) -> int:
    sessions = list(sessions)
    with account_write_lock(*{s.user_id for s in sessions}):  # a superuser may delete several owners' sessions
        ChargingSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()
        sessions_sequence_recompute(car_ids=[s.car_id for s in sessions])
    logger.info("sessions_deleted count=%d", len(sessions))
    return len(sessions)

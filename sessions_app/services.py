"""Writes to charging sessions. Every write path ends by recomputing what follows from the sessions
of each car it touched (`sessions_sequence_recompute`: the baseline, each session's previous
odometer, the car's month totals), so those hold whoever wrote."""

import logging
from collections.abc import Iterable

from django.db import connection

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock

from .models import CHRONOLOGICAL, ChargingSession
from .totals import month_label_totals_rebuild

logger = logging.getLogger("plugtrack.sessions")


def sessions_sequence_recompute(*, car_ids: Iterable[int]) -> None:
    """Recompute what follows from the order of each car's sessions (by date, odometer, id): the
    earliest is the car's only baseline, and each session keeps the odometer of the one before it
    (one statement per car, a window function, rewriting only rows whose value changed); then the
    car's month totals, which count those miles."""
    car_ids = set(car_ids)
    table = connection.ops.quote_name(ChargingSession._meta.db_table)
    for car_id in car_ids:
        sessions = ChargingSession.objects.filter(car_id=car_id)
        first_id = sessions.order_by(*CHRONOLOGICAL).values_list("id", flat=True).first()
        sessions.filter(is_baseline=True).exclude(id=first_id).update(is_baseline=False)
        if first_id is not None:
            sessions.filter(id=first_id, is_baseline=False).update(is_baseline=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS session SET odometer_before = earlier.odometer_before "
                f"FROM (SELECT id, LAG(odometer) OVER (ORDER BY date, odometer, id) AS odometer_before "
                f"      FROM {table} WHERE car_id = %s) AS earlier "
                "WHERE session.id = earlier.id AND session.odometer_before IS DISTINCT FROM earlier.odometer_before",
                [car_id],
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

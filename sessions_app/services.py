"""Writes to charging sessions. Every write path ends by recomputing what follows from the sessions
of each car it touched (`sessions_sequence_recompute`: the baseline, each session's previous
odometer, the car's month totals), so those hold whoever wrote."""

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.events import SESSION_CREATED, event_on_commit
from settings_app.services import settings_update, user_settings, user_settings_many

from .analytics import home_word_candidate
from .models import COST_UNITS, KWH_UNITS, PRICE_UNITS, ChargingSession, CostSource, car_event_data, price_units
from .plausibility import CHECKS_SQL
from .totals import month_label_totals_rebuild, month_start

logger = logging.getLogger("plugtrack.sessions")


# After writing this many sessions at once, PostgreSQL's planner statistics are refreshed first.
ANALYZE_AFTER_ROWS = 1_000


def sessions_sequence_recompute(
    *, car_ids: Iterable[int], rows_written: int = 0, changed_dates: Iterable[dt.date] | None = None
) -> None:
    """Recompute what follows from the order of each car's sessions (by date, odometer, id): the
    earliest is the car's only baseline, each session keeps the odometer of the one before it and
    its plausibility flags (`session_order_update`); then the cars' month totals, which count those
    miles and leave the flagged sessions out of efficiency.

    `changed_dates`: the dates of the sessions the write inserted, deleted or changed (before and
    after an edit), when the caller knows them: then only the sessions from the one before the
    earliest of them to the one after the latest are recomputed, and only the months of those dates
    and of the sessions whose values changed are summed again, so that one new session costs the
    same among 50 sessions as among 50,000. Left out: every session of the cars, every month (a new
    battery, a new ceiling)."""
    car_ids = sorted(set(car_ids))
    dates = None if changed_dates is None else {_date(day) for day in changed_dates}
    if not car_ids or dates == set():
        return
    since, until = (min(dates), max(dates)) if dates else (None, None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and rows_written >= ANALYZE_AFTER_ROWS:
            # Until autovacuum's next ANALYZE, PostgreSQL plans on statistics from before an import:
            # taking a car of 20,000 new sessions for one of a single session, it joined them below
            # row by row for minutes. ANALYZE in this transaction counts its own new rows.
            cursor.execute(f"ANALYZE {connection.ops.quote_name(ChargingSession._meta.db_table)}")
        updated = session_order_update(cursor, car_ids, since=since, until=until)
    months = None if dates is None else {month_start(day) for day in dates | updated}
    month_label_totals_rebuild(car_ids=car_ids, months=months)


def session_order_update(
    cursor, car_ids: list[int], since: dt.date | None = None, until: dt.date | None = None
) -> set[dt.date]:
    """The baseline, previous odometer and plausibility flags of the cars' sessions, in one UPDATE
    (window functions partitioned by car) that rewrites only the rows whose values changed; returns
    the dates of those rows. Plain SQL on the tables (migration 0007 keeps a copy of it as it was then).

    With `since` and `until` (nothing changed before the one date or after the other), only each
    car's sessions from its last date before `since` to its second date after `until` are read. Those
    of the date before keep their stored previous odometer and baseline (nothing before them changed)
    and give the first session from `since` its previous odometer; the last of them gets its next
    odometer again (its "above the next" flag). Every session from `since` to the first date after
    `until` is recomputed (that date's first has a new previous odometer), and is the baseline only
    when nothing comes before `since`; those of the second date after only give it its next odometer."""
    table = connection.ops.quote_name(ChargingSession._meta.db_table)
    cars = connection.ops.quote_name(Car._meta.db_table)
    # Each owner's most a kWh can cost (a hard bound), as a CASE over the cars' owners: usually one.
    owners = set(Car.objects.filter(pk__in=car_ids).values_list("user_id", flat=True))
    ceilings = [(owner, price_units(found.max_price_per_kwh))
                for owner, found in user_settings_many(user_ids=owners).items()]  # fmt: skip
    ceiling_case = "CASE car.user_id " + " ".join("WHEN %s THEN CAST(%s AS BIGINT)" for _ in ceilings) + " END"
    ceiling_case = ceiling_case if ceilings else "CAST(NULL AS BIGINT)"  # (cars gone meanwhile: nothing to update)
    params = [value for pair in ceilings for value in pair]
    if since is None:
        odometer_before, is_first = "LAG(s.odometer) OVER chronological", "ROW_NUMBER() OVER chronological = 1"
        updatable = "1"
        which = f"s.car_id IN ({', '.join(['%s'] * len(car_ids))})"
        params += car_ids
    else:
        odometer_before = "CASE WHEN s.date < %s THEN s.odometer_before ELSE LAG(s.odometer) OVER chronological END"
        is_first = "CASE WHEN s.date < %s THEN s.is_baseline ELSE ROW_NUMBER() OVER chronological = 1 END"
        # Each car's dates around the change, by subqueries that name the car (each run once): the last
        # before `since` (or `since`), the first after `until`, and the one after that.
        start = f"COALESCE((SELECT MAX(date) FROM {table} WHERE car_id = %s AND date < %s), %s)"
        following = f"(SELECT MIN(date) FROM {table} WHERE car_id = %s AND date > %s)"
        second = f"(SELECT MIN(date) FROM {table} WHERE car_id = %s AND date > {following})"
        last_updated = "CASE s.car_id " + " ".join([f"WHEN %s THEN COALESCE({following}, s.date)"] * len(car_ids))
        updatable = f"CASE WHEN s.date <= {last_updated} END THEN 1 ELSE 0 END"
        # (in the order of the SELECT: previous odometer, first, ceilings, updatable; then the WHERE)
        params = [since, since, *params]
        params += [value for car_id in car_ids for value in (car_id, car_id, until)]
        # (bounds PostgreSQL reads from the index: with COALESCE(…, s.date) it read the table)
        which = " OR ".join([f"(s.car_id = %s AND s.date >= {start} AND s.date <= COALESCE({second}, %s))"]
                            * len(car_ids))  # fmt: skip
        params += [value for car_id in car_ids
                   for value in (car_id, car_id, since, since, car_id, car_id, until, dt.date.max)]  # fmt: skip
    cursor.execute(
        f"UPDATE {table} AS session "
        "SET odometer_before = checked.odometer_before, is_baseline = checked.is_first, checks = checked.checks "
        f"FROM (SELECT id, odometer_before, is_first, {CHECKS_SQL} AS checks, updatable FROM ("
        "        SELECT s.id, CAST(s.odometer AS BIGINT) AS odometer, "
        f"              {odometer_before} AS odometer_before, "
        "               LEAD(s.odometer) OVER chronological AS odometer_after, "
        f"              {is_first} AS is_first, "
        f"              ROUND(s.charge_delivered_kwh * {KWH_UNITS}) AS kwh_units, "
        f"              ROUND(car.battery_kwh * {KWH_UNITS}) AS battery_units, "
        "               COUNT(*) OVER (PARTITION BY s.car_id, s.date, s.odometer) AS same_date_odometer, "
        f"              ROUND(s.cost_per_kwh * {PRICE_UNITS}) AS price_units, "
        f"              ROUND(s.total_cost_gbp * {COST_UNITS}) AS cost_units, "
        f"              {ceiling_case} AS ceiling_units, "
        f"              {updatable} AS updatable "
        f"       FROM {table} AS s JOIN {cars} AS car ON car.id = s.car_id "
        f"       WHERE {which} "
        "        WINDOW chronological AS (PARTITION BY s.car_id ORDER BY s.date, s.odometer, s.id)) AS neighbours"
        "     ) AS checked "
        "WHERE session.id = checked.id AND checked.updatable = 1 "
        "      AND (session.odometer_before IS DISTINCT FROM checked.odometer_before "
        "      OR session.is_baseline <> checked.is_first OR session.checks <> checked.checks) "
        f"RETURNING {connection.ops.quote_name('date')}",  # (SQLite reads no alias there)
        params,
    )
    return {_date(day) for (day,) in cursor.fetchall()}


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)  # (SQLite gives text, a test a string)


def sessions_reflagged_for_settings(sender, *, user, keys: list[str], **kwargs) -> None:
    """A new price ceiling (a hard bound) flags, or clears, the owner's stored sessions above it."""
    if "max_price_per_kwh" in keys:
        sessions_sequence_recompute(car_ids=Car.objects.filter(user=user).values_list("pk", flat=True))


def car_save(*, car: Car) -> Car:
    """Save a new or edited car; a changed battery changes its sessions' flags ("more kWh than the
    battery", the hard bound) and the totals that leave them out: recomputed with it."""
    with account_write_lock(car.user_id):
        battery_before = Car.objects.filter(pk=car.pk).values_list("battery_kwh", flat=True).first()
        car.save()
        if battery_before is not None and battery_before != car.battery_kwh:
            # The sessions' "more kWh than the battery" flags, and the totals that leave them out, follow it.
            sessions_sequence_recompute(car_ids=[car.pk])
    return car


def charging_session_save(*, session: ChargingSession, previous_car_id: int | None = None) -> ChargingSession:
    """Save a new or edited session. `previous_car_id`: its car before the edit, if it moved. A new one
    is told as a `session.created` event once committed (plugtrack_site.events)."""
    session.user_id = session.car.user_id  # a session always belongs to its car's owner
    car_ids = [session.car_id] + ([previous_car_id] if previous_car_id else [])
    owners = Car.objects.filter(pk__in=car_ids).values_list("user_id", flat=True)  # a superuser may move it
    created = session.pk is None
    if not created:  # an edit: an undo of its import keeps it unless told otherwise
        session.edited_at = timezone.now()
    with account_write_lock(session.user_id, *owners):
        # its date before the edit and after: where the order of its car, or cars, changed
        dates = [session.date, *ChargingSession.objects.filter(pk=session.pk).values_list("date", flat=True)]
        session.save()
        sessions_sequence_recompute(car_ids=car_ids, changed_dates=dates)
        session.refresh_from_db(fields=["is_baseline", "checks"])
        if created:
            session_created_event(session.pk)
    return session


def session_created_event(session_id: int) -> None:
    """Tell one new session (the admin's, the API's) as a `session.created` event once committed, as
    stored (its baseline and checks recomputed)."""
    stored = ChargingSession.objects.select_related("car").get(pk=session_id)
    event_on_commit(
        user=stored.user_id, kind=SESSION_CREATED,
        data={"count": 1, "car": car_event_data(stored.car), "session": stored.event_data()},
    )  # fmt: skip


def charging_sessions_delete(*, sessions: Iterable[ChargingSession]) -> int:
    sessions = list(sessions)
    with account_write_lock(*{s.user_id for s in sessions}):  # a superuser may delete several owners' sessions
        ChargingSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()
        sessions_sequence_recompute(car_ids=[s.car_id for s in sessions], changed_dates=[s.date for s in sessions])
    logger.info("sessions_deleted count=%d", len(sessions))
    return len(sessions)


def home_question_answer(*, car: Car, label: str, at_home: bool) -> None:
    """The owner's answer to "Is <label> your home?" (`analytics.home_word_candidate`, asked on the
    car's page and its import's report): yes adds the label to their home words, no to the places
    not asked about again. Refused when that is no longer the question (answered meanwhile, say)."""
    with account_write_lock(car.user_id):
        settings = user_settings(user=car.user_id)
        candidate = home_word_candidate(car=car, settings=settings)
        if candidate is None or candidate.label != label:
            raise PlugTrackError(f"PlugTrack no longer asks whether “{label}” is your home: nothing was changed.")
        if at_home:
            settings_update(user=car.user, values={"home_aliases_csv": [*settings.home_aliases_csv, label]})
        else:
            settings_update(user=car.user, values={"not_home_places_csv": [*settings.not_home_places_csv, label]})
    logger.info("home_question_answered user_id=%d car_id=%d at_home=%s", car.user_id, car.pk, at_home)


@dataclass(frozen=True)
class SessionCost:
    """A session's worked-out cost, as the tariffs app gives it: the estimate (pounds, to the penny),
    where the cost the figures use comes from, the estimate's kWh and pence by band, and its
    off-peak kWh and their cost."""

    session_id: int
    car_id: int
    estimated_cost_gbp: Decimal | None
    cost_source: str
    breakdown: dict | None
    off_peak_kwh: Decimal | None = None
    off_peak_cost_gbp: Decimal | None = None


COSTS_WRITTEN_AT_ONCE = 2_000


def charging_session_costs_write(*, user_id: int, costs: Iterable[SessionCost]) -> int:
    """Write sessions' worked-out costs (never the recorded ones: `total_cost_gbp` and the price are
    not touched), `COSTS_WRITTEN_AT_ONCE` at a time, then the month totals of the cars written to.
    Under the owner's lock; `costs` may be a generator, read once. Returns how many were written."""
    table = connection.ops.quote_name(ChargingSession._meta.db_table)
    breakdown = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"UPDATE {table} SET estimated_cost_gbp = %s, cost_source = %s, cost_breakdown = {breakdown}, "
        "off_peak_kwh = %s, off_peak_cost_gbp = %s WHERE id = %s AND user_id = %s"
    )
    sources = set(CostSource.values)
    written, car_ids, chunk = 0, set(), []
    with account_write_lock(user_id), connection.cursor() as cursor:
        for cost in costs:
            if cost.cost_source not in sources:
                raise ValueError(f"Not a cost source: {cost.cost_source!r}")
            breakdown_json = None if cost.breakdown is None else json.dumps(cost.breakdown)
            chunk.append((
                cost.estimated_cost_gbp, cost.cost_source, breakdown_json, cost.off_peak_kwh, cost.off_peak_cost_gbp,
                cost.session_id, user_id,
            ))  # fmt: skip
            car_ids.add(cost.car_id)
            if len(chunk) >= COSTS_WRITTEN_AT_ONCE:
                cursor.executemany(sql, chunk)
                written, chunk = written + len(chunk), []
        if chunk:
            cursor.executemany(sql, chunk)
            written += len(chunk)
        month_label_totals_rebuild(car_ids=car_ids)
    logger.info("session_costs_written user_id=%d sessions=%d cars=%d", user_id, written, len(car_ids))
    return written

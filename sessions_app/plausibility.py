"""Plausibility checks of a session against its neighbours and its car: never blocking, never silent.

A session is flagged ("check") when its odometer is below the previous session's or above the next
one's (by date, odometer, id), when it charged more than the car's battery × 1.1, when the miles
since the previous session over its kWh fall outside 1–7 mi/kWh, or when another session of the car
has the same date and odometer (with a different kWh: the same kWh would be a duplicate). Flagged
sessions are kept, marked, and left out of efficiency and cost per mile.

The rules are written once, as SQL over a few named values (`CHECKS_SQL`), so that the stored
flags (sessions_sequence_recompute), the admin form's warning (`session_problems`) and the import
report's warning rows (the importer's own key store) can never disagree.
"""

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import IntFlag

from django.db import connection
from django.db.models import Q

from plugtrack_site.dates import date_text

from .bounds import ENERGY_PER_BATTERY
from .models import CHRONOLOGICAL, COST_UNITS, KWH_UNITS, PRICE_UNITS, ChargingSession, kwh_units

# Outside this range a session's or a car's mi/kWh is a data problem (a missed session, a typo), not a figure.
PLAUSIBLE_SESSION_EFFICIENCY = (Decimal(1), Decimal(7))
BATTERY_MARGIN = Decimal("1.1")  # a session may charge up to the battery's size and a tenth more


class Check(IntFlag):
    ODOMETER_BELOW_PREVIOUS = 1
    ODOMETER_ABOVE_NEXT = 2
    KWH_ABOVE_BATTERY = 4
    EFFICIENCY_IMPLAUSIBLE = 8
    SAME_DATE_AND_ODOMETER = 16
    IMPOSSIBLE = 32  # a hard bound broken (bounds.py): stored before the bound, or under a higher price ceiling


CHECK_TEXTS = {
    Check.ODOMETER_BELOW_PREVIOUS: "odometer below the previous session's",
    Check.ODOMETER_ABOVE_NEXT: "odometer above the next session's",
    Check.KWH_ABOVE_BATTERY: f"more kWh than the battery × {BATTERY_MARGIN}",
    Check.EFFICIENCY_IMPLAUSIBLE: "miles per kWh since the previous session outside {}–{}".format(
        *PLAUSIBLE_SESSION_EFFICIENCY
    ),
    Check.SAME_DATE_AND_ODOMETER: "another session has the same date and odometer",
    Check.IMPOSSIBLE: "a value no session can have (more energy than 1.5 × the battery, a price or total cost above "
    "the most a kWh costs): correct it",
}


def checks_summary(checks: int) -> str:
    """What the flags say, in short ("odometer below the previous session's; ..."); "" for none."""
    return "; ".join(text for check, text in CHECK_TEXTS.items() if checks & check)


_LOW, _HIGH = PLAUSIBLE_SESSION_EFFICIENCY
_MARGIN_TENTHS = int(BATTERY_MARGIN * 10)  # whole numbers in SQL: exact on SQLite too
_BOUND_TENTHS = int(ENERGY_PER_BATTERY * 10)
# The flags (a sum of Check values) of a row with these values: odometer, odometer_before and
# odometer_after (the neighbours' odometers, NULL at either end), kwh_units and battery_units (in
# thousandths of a kWh, whole numbers so that SQLite's floating point decides no boundary),
# same_date_odometer (how many of the car's sessions have this date and odometer, itself included),
# and for the hard bounds price_units and ceiling_units (£/kWh in ten-thousandths: the price and the
# owner's most a kWh can cost) and cost_units (the total cost in pence; above the energy at the ceiling
# by more than half a penny: bounds.most_cost rounds it to the penny).
CHECKS_SQL = (
    f"(CASE WHEN odometer < odometer_before THEN {Check.ODOMETER_BELOW_PREVIOUS:d} ELSE 0 END"
    f" + CASE WHEN odometer > odometer_after THEN {Check.ODOMETER_ABOVE_NEXT:d} ELSE 0 END"
    f" + CASE WHEN kwh_units * 10 > battery_units * {_MARGIN_TENTHS} THEN {Check.KWH_ABOVE_BATTERY:d} ELSE 0 END"
    f" + CASE WHEN odometer > odometer_before AND ((odometer - odometer_before) * {KWH_UNITS} < kwh_units * {_LOW}"
    f"      OR (odometer - odometer_before) * {KWH_UNITS} > kwh_units * {_HIGH})"
    f"      THEN {Check.EFFICIENCY_IMPLAUSIBLE:d} ELSE 0 END"
    f" + CASE WHEN same_date_odometer > 1 THEN {Check.SAME_DATE_AND_ODOMETER:d} ELSE 0 END"
    f" + CASE WHEN kwh_units * 10 > battery_units * {_BOUND_TENTHS} OR price_units > ceiling_units"
    f"      OR cost_units * {KWH_UNITS * PRICE_UNITS // COST_UNITS} > kwh_units * ceiling_units"
    f"         + {KWH_UNITS * PRICE_UNITS // COST_UNITS // 2} THEN {Check.IMPOSSIBLE:d} ELSE 0 END)"
)
# The names CHECKS_SQL reads, each a whole number or NULL (not judged).
CHECKS_SQL_VALUES = (
    "odometer", "odometer_before", "odometer_after", "kwh_units", "battery_units", "same_date_odometer",
    "price_units", "cost_units", "ceiling_units",
)  # fmt: skip


@dataclass(frozen=True)
class Neighbour:
    """The session before or after the one checked, as a message names it."""

    date: dt.date
    odometer: int
    kwh: Decimal

    def __str__(self) -> str:
        return f"{date_text(self.date)}, {self.odometer:,} mi, {kwh_text(self.kwh)} kWh"


def kwh_text(kwh: Decimal) -> str:
    """A kWh as people write it: 40, not 40.000; 30.5, not 30.500."""
    return f"{kwh.normalize():,f}" if kwh else "0"


def problem_messages(
    checks: int,
    *,
    odometer: int,
    kwh: Decimal,
    battery_kwh: Decimal,
    previous: Neighbour | None,
    following: Neighbour | None,
) -> dict[Check, str]:
    """Each flag of `checks` in words, naming the neighbouring session it disagrees with."""
    miles = previous and odometer - previous.odometer
    messages = {
        Check.ODOMETER_BELOW_PREVIOUS: lambda: (
            f"the odometer ({odometer:,} mi) is below that of the session before it ({previous})."
        ),
        Check.ODOMETER_ABOVE_NEXT: lambda: (
            f"the odometer ({odometer:,} mi) is above that of the session after it ({following})."
        ),
        Check.KWH_ABOVE_BATTERY: lambda: (
            f"{kwh_text(kwh)} kWh is more than the car's battery ({kwh_text(battery_kwh)} kWh) × {BATTERY_MARGIN}."
        ),
        Check.EFFICIENCY_IMPLAUSIBLE: lambda: (
            f"{miles:,} miles since the session before it ({previous}) on "
            f"{kwh_text(kwh)} kWh is {_efficiency_text(miles, kwh)}, outside {_LOW}–{_HIGH} mi/kWh: "
            "is a session missing?"
        ),
        Check.SAME_DATE_AND_ODOMETER: lambda: "another session of this car has the same date and odometer.",
        Check.IMPOSSIBLE: lambda: f"{CHECK_TEXTS[Check.IMPOSSIBLE]}.",
    }
    return {check: messages[check]() for check in Check if checks & check}


def session_problems(session: ChargingSession) -> list[str]:
    """What the checks would flag once `session` (new or edited, not saved yet) is among its car's
    stored sessions, in words: its own problems, then those it would newly give the sessions just
    before and after it (an odometer between them no longer in order, miles per kWh changed)."""
    others = ChargingSession.objects.filter(car_id=session.car_id).exclude(pk=session.pk)
    position = _before(session)
    previous = others.filter(position).order_by(*(f"-{name}" for name in CHRONOLOGICAL)).first()
    following = others.exclude(position).order_by(*CHRONOLOGICAL).first()
    this, before, after = (_named(s) for s in (session, previous, following))
    battery = session.car.battery_kwh
    checks = _checks_of(
        odometer=session.odometer, odometer_before=before and before.odometer, odometer_after=after and after.odometer,
        kwh_units=kwh_units(session.charge_delivered_kwh), battery_units=kwh_units(battery),
        same_date_odometer=1 + others.filter(date=session.date, odometer=session.odometer).exists(),
    )  # fmt: skip
    problems = list(
        problem_messages(
            checks, odometer=session.odometer, kwh=session.charge_delivered_kwh, battery_kwh=battery,
            previous=before, following=after,
        ).values()
    )  # fmt: skip
    if previous:  # only its next odometer changes
        newly = _checks_of(odometer=previous.odometer, odometer_after=session.odometer) & ~previous.checks
        messages = problem_messages(newly, odometer=previous.odometer, kwh=previous.charge_delivered_kwh,
                                    battery_kwh=battery, previous=None, following=this)  # fmt: skip
        problems += [f"the session before it ({before}) would then be flagged: {text}" for text in messages.values()]
    if following:  # only its previous odometer changes, and with it its miles
        newly = _checks_of(
            odometer=following.odometer, odometer_before=session.odometer,
            kwh_units=kwh_units(following.charge_delivered_kwh),
        ) & ~following.checks  # fmt: skip
        messages = problem_messages(newly, odometer=following.odometer, kwh=following.charge_delivered_kwh,
                                    battery_kwh=battery, previous=this, following=None)  # fmt: skip
        problems += [f"the session after it ({after}) would then be flagged: {text}" for text in messages.values()]
    return problems


def _checks_of(**values: int | None) -> int:
    """CHECKS_SQL on one row of values, by the database itself (a value not given is NULL: not judged)."""
    with connection.cursor() as cursor:
        columns = ", ".join(f"CAST(%s AS BIGINT) AS {name}" for name in CHECKS_SQL_VALUES)  # typed, though NULL
        cursor.execute(
            f"SELECT {CHECKS_SQL} FROM (SELECT {columns}) AS session", [values.get(n) for n in CHECKS_SQL_VALUES]
        )
        return cursor.fetchone()[0]


def _named(session: ChargingSession | None) -> Neighbour | None:
    return session and Neighbour(session.date, session.odometer, session.charge_delivered_kwh)


@contextmanager
def newly_flagged(car_ids: Iterable[int]) -> Iterator[list[ChargingSession]]:
    """The cars' sessions that a write inside the block flagged for something new (a saved session,
    its neighbours, those a deletion brought together), filled in when the block ends."""
    car_ids = [car_id for car_id in car_ids if car_id]
    flagged = ChargingSession.objects.filter(car_id__in=car_ids, checks__gt=0)
    before = dict(flagged.values_list("pk", "checks"))
    found: list[ChargingSession] = []
    yield found
    found += [session for session in flagged.order_by(*CHRONOLOGICAL) if session.checks & ~before.get(session.pk, 0)]


def efficiency_plausible(efficiency: Decimal) -> bool:
    """Whether a session's or a car's mi/kWh is a figure, not a data problem: CHECKS_SQL's rule."""
    return _LOW <= efficiency <= _HIGH


def _before(session: ChargingSession) -> Q:
    """A filter for the car's sessions that come before `session` in time (a new one: after its equals)."""
    earlier = Q(date__lt=session.date) | Q(date=session.date, odometer__lt=session.odometer)
    if session.pk is None:
        return earlier | Q(date=session.date, odometer=session.odometer)
    return earlier | Q(date=session.date, odometer=session.odometer, pk__lt=session.pk)


def _efficiency_text(miles: int, kwh: Decimal) -> str:
    return "no kWh at all" if not kwh else f"{Decimal(miles) / kwh:.2f} mi/kWh"

"""Each car's sessions summed by month and location (MonthLabelTotal), rebuilt after every write.

A car's summary and its months read these few rows (one per month and place charged at) instead of
the car's whole history, so the car list and a car's analytics page cost the same for 500 sessions
as for 50,000. Location labels are kept apart rather than judged home or public here, because that
depends on the owner's home aliases, which may change at any time: the reader classifies them.
"""

import calendar
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection
from django.db.models import BigIntegerField, Case, Count, F, Max, Q, Sum, Value, When
from django.db.models.functions import Cast, Round

from .models import (
    COST_UNITS,
    KWH_UNITS,
    PRICE_UNITS,
    ChargingSession,
    MonthLabelTotal,
    date_truncated,
    truncated_date,
)

# A charge to at least this state of charge is a full charge (the car's full-charge reminder).
FULL_CHARGE_SOC = 95


# Up to this many months are summed again one by one (a date range each); more, all from the earliest.
MONTHS_APART = 24

_COST_TO_UNITS = KWH_UNITS * PRICE_UNITS // COST_UNITS  # pence → the units of a price × kWh


class Units:
    """Amounts summed by the database in whole units, so that SQLite (which keeps decimals as
    floating point) sums them as exactly as Python's Decimal does: kWh in thousandths, prices in
    ten-thousandths of a pound per kWh, totals in pence, and costs in ten-millionths of a pound (a
    price times a kWh)."""

    KWH = Cast(Round(F("charge_delivered_kwh") * KWH_UNITS), BigIntegerField())
    PRICED = Q(total_cost_gbp__isnull=False) | Q(cost_per_kwh__isnull=False)  # a cost recorded
    # A session's recorded cost: its total when given, else price × kWh (ChargingSession.cost_of); none without either.
    COST = Case(
        When(
            total_cost_gbp__isnull=False,
            then=Cast(Round(F("total_cost_gbp") * COST_UNITS), BigIntegerField()) * _COST_TO_UNITS,
        ),  # fmt: skip
        When(cost_per_kwh__isnull=False, then=Cast(Round(F("cost_per_kwh") * PRICE_UNITS), BigIntegerField()) * KWH),
        output_field=BigIntegerField(),
    )
    # No cost recorded, but one estimated by the owner's tariffs (the tariffs app writes it).
    ESTIMATED = Q(total_cost_gbp__isnull=True, cost_per_kwh__isnull=True, estimated_cost_gbp__isnull=False)
    COSTED = PRICED | ESTIMATED
    ESTIMATED_COST = Cast(Round(F("estimated_cost_gbp") * COST_UNITS), BigIntegerField()) * _COST_TO_UNITS
    # The cost the figures use: the recorded one, else the estimate.
    COST_USED = Case(*COST.cases, When(estimated_cost_gbp__isnull=False, then=ESTIMATED_COST),
                     output_field=BigIntegerField())  # fmt: skip
    BANDED = Q(off_peak_kwh__isnull=False)
    OFF_PEAK_KWH = Cast(Round(F("off_peak_kwh") * KWH_UNITS), BigIntegerField())
    # The cost of the off-peak kWh: the estimate's, or a recorded cost's share as the estimate shares it.
    OFF_PEAK_COST = Case(
        When(ESTIMATED, then=Cast(Round(F("off_peak_cost_gbp") * KWH_UNITS * PRICE_UNITS), BigIntegerField())),
        When(
            Q(off_peak_cost_gbp__isnull=False, estimated_cost_gbp__gt=0),
            then=Cast(Round(COST * F("off_peak_cost_gbp") / F("estimated_cost_gbp")), BigIntegerField()),
        ),  # fmt: skip
        default=Value(0), output_field=BigIntegerField(),
    )  # fmt: skip

    @staticmethod
    def kwh(units: int | None) -> Decimal:
        return Decimal(units or 0).scaleb(-3)

    @staticmethod
    def cost(units: int | None) -> Decimal:
        return Decimal(units or 0).scaleb(-7)


def month_label_totals_rebuild(
    *, car_ids: Iterable[int], models: tuple[type, type] | None = None, months: Iterable[dt.date] | None = None
) -> None:
    """Sum the cars' sessions again by month, location label, network and flagged or not, replacing
    their totals: a group-by, a delete and an insert, however many cars (SQLite splits a long insert
    into batches). `months` (their first days): only those months' totals, when only their sessions
    changed; more than MONTHS_APART of them, every month from the earliest. Left out: every month.

    A session's miles are those since the previous session (its stored `odometer_before`, so this
    runs after that and the flags are current); they count towards efficiency and cost per mile
    unless the session is flagged (see plausibility.py) or is the baseline, so one missed session
    does not distort a month. `models`: (session, total) models of a migration's historical state
    (migration 0007 fills the totals with this function: a change that needs a newer field must
    keep that call working, or freeze a copy of this function in the migration).
    """
    session_model, total_model = models or (ChargingSession, MonthLabelTotal)
    # In 64 bits: a mistyped odometer (millions of miles) would overflow PostgreSQL's integer.
    miles = Cast(F("odometer"), BigIntegerField()) - F("odometer_before")
    counted = Q(odometer_before__isnull=False, checks=0)
    car_ids = list(car_ids)
    sessions = session_model.objects.filter(car_id__in=car_ids)
    replaced = total_model.objects.filter(car_id__in=car_ids)
    if months is not None:
        months = sorted(set(months))
        if not months:
            return
        if len(months) > MONTHS_APART:
            sessions, replaced = sessions.filter(date__gte=months[0]), replaced.filter(month__gte=months[0])
        else:
            within = Q()
            for month in months:
                last_day = calendar.monthrange(month.year, month.month)[1]
                within |= Q(date__gte=month, date__lte=month.replace(day=last_day))
            sessions, replaced = sessions.filter(within), replaced.filter(month__in=months)
    # Costs recorded, else estimated: a migration's older models have no estimates (nor totals of them).
    estimates = any(field.name == "estimated_cost_gbp" for field in session_model._meta.fields)
    costed, cost = (Units.COSTED, Units.COST_USED) if estimates else (Units.PRICED, Units.COST)
    estimated_sums = {
        "estimated_sessions": Count("id", filter=Units.ESTIMATED),
        "estimated_cost": _sum_where(Units.ESTIMATED, Units.ESTIMATED_COST),
        "banded_kwh": _sum_where(Units.BANDED, Units.KWH),
        "off_peak_kwh": _sum_where(Units.BANDED, Units.OFF_PEAK_KWH),
        "off_peak_cost": Sum(Units.OFF_PEAK_COST),
    } if estimates else {}  # fmt: skip
    rows = (
        sessions.order_by()
        .annotate(month=date_truncated("date", "month", connection.vendor), flagged=Q(checks__gt=0))
        .values("car_id", "month", "location_label", "charge_network", "flagged")
        .annotate(
            sessions=Count("id"), kwh=Sum(Units.KWH), cost=Sum(cost),
            priced_sessions=Count("id", filter=costed),
            priced_kwh=_sum_where(costed, Units.KWH),
            efficiency_miles=_sum_where(counted, miles),
            efficiency_kwh=_sum_where(counted, Units.KWH),
            costed_miles=_sum_where(counted & costed, miles),
            costed_cost=_sum_where(counted & costed, cost),
            last_full_charge=Max("date", filter=Q(soc_to__gte=FULL_CHARGE_SOC)),
            **estimated_sums,
        )
    )  # fmt: skip
    totals = [
        total_model(
            car_id=row["car_id"],
            month=truncated_date(row["month"]),
            location_label=row["location_label"],
            charge_network=row["charge_network"],
            flagged=bool(row["flagged"]),
            sessions=row["sessions"],
            kwh_units=row["kwh"] or 0,
            cost_units=row["cost"] or 0,
            priced_sessions=row["priced_sessions"],
            priced_kwh_units=row["priced_kwh"] or 0,
            efficiency_miles=row["efficiency_miles"] or 0,
            efficiency_kwh_units=row["efficiency_kwh"] or 0,
            costed_miles=row["costed_miles"] or 0,
            costed_cost_units=row["costed_cost"] or 0,
            last_full_charge=row["last_full_charge"],
            **({name + ("" if name == "estimated_sessions" else "_units"): row[name] or 0 for name in estimated_sums}),
        )
        for row in rows
    ]
    replaced.delete()
    total_model.objects.bulk_create(totals)


def month_start(day: dt.date) -> dt.date:
    """The first day of `day`'s month: a month as MonthLabelTotal names it."""
    return day.replace(day=1)


def _sum_where(condition: Q, amount) -> Sum:
    """The sum of `amount` over the rows matching `condition` (0 when none do, or none could)."""
    return Sum(Case(When(condition, then=amount), default=Value(0), output_field=BigIntegerField()))

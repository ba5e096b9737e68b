"""Analytics selectors (SPEC §3): efficiency, home detection, costs and the petrol comparison.

Pure functions of values and querysets; they read, never write. Money is in pounds (Decimal),
prices per mile in pence.
"""

import calendar
import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import connection
from django.db.models import BigIntegerField, Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Cast, Round

from cars_app.models import Car
from settings_app.petrol import petrol_pence_per_mile
from settings_app.services import UserSettings

from .models import CHRONOLOGICAL, ChargingSession, date_truncated, truncated_date

# Outside this range a session's mi/kWh is a data problem (a missed session, a typo), not a figure.
PLAUSIBLE_SESSION_EFFICIENCY = (Decimal(1), Decimal(7))
# Below these, a measured car efficiency is noise.
MIN_MILES_FOR_MEASURED = 50
MIN_KWH_FOR_MEASURED = Decimal(20)


class EfficiencySource(StrEnum):
    MEASURED = "measured"
    CAR_FIGURE = "car figure"
    DEFAULT_SETTING = "default setting"
    NOT_ENOUGH_DATA = "not enough data"


def is_home(location_label: str, aliases: Iterable[str]) -> bool:
    """True when the label contains one of the aliases as a whole word, ignoring case."""
    pattern = _home_pattern(tuple(aliases))
    return bool(location_label) and pattern is not None and pattern.search(location_label) is not None


@functools.lru_cache(maxsize=256)
def _home_pattern(aliases: tuple[str, ...]) -> re.Pattern | None:
    # Built once per set of aliases, not per session (it was half the time of a car's analytics).
    words = [re.escape(alias.strip()) for alias in aliases if alias.strip()]
    return re.compile(rf"\b(?:{'|'.join(words)})\b", re.IGNORECASE) if words else None


def session_cost_gbp(total_cost_gbp: Decimal | None, cost_per_kwh: Decimal | None, kwh: Decimal) -> Decimal | None:
    if total_cost_gbp is not None:
        return total_cost_gbp
    if cost_per_kwh is not None:
        return cost_per_kwh * kwh
    return None


def session_efficiency(miles: int | None, kwh: Decimal) -> Decimal | None:
    """Miles since the previous session over this session's kWh; None when not a sensible figure."""
    if miles is None or miles <= 0 or kwh <= 0:
        return None
    efficiency = Decimal(miles) / kwh
    low, high = PLAUSIBLE_SESSION_EFFICIENCY
    return efficiency if low <= efficiency <= high else None


def ev_pence_per_mile(cost_gbp: Decimal | None, miles: int | None) -> Decimal | None:
    if cost_gbp is None or not miles or miles <= 0:
        return None
    return 100 * cost_gbp / miles


def effective_power_kw(session: ChargingSession, settings: UserSettings) -> Decimal | None:
    """The session's power, or the assumed home charging power for a home session left blank."""
    if session.charge_power_kw is None and is_home(session.location_label, settings.home_aliases_csv):
        return settings.home_charging_speed_kw
    return session.charge_power_kw


def sessions_with_previous_odometer(queryset: QuerySet[ChargingSession]) -> QuerySet[ChargingSession]:
    """Annotate `previous_odometer`: the odometer of the same car's session just before each one.

    Read from the column every write keeps current (`odometer_before`, see
    `sessions_sequence_recompute`), not worked out per row: a page of the list costs the same
    whatever the car's history, and filters on the queryset (a date range, a location) do not
    change which session counts as "previous".
    """
    return queryset.annotate(previous_odometer=F("odometer_before"))


def home_location_labels(queryset: QuerySet[ChargingSession], aliases_by_user: dict[int, list[str]]) -> Q:
    """A filter matching the home sessions of `queryset`, each user judged by their own aliases.

    Whole-word matching differs between databases' regex dialects, so the (few) distinct labels
    are classified here in Python and the filter is a plain `IN`.
    """
    home = Q(pk__in=[])
    # order_by(): the model's default ordering would make DISTINCT return one row per session.
    for user_id, label in queryset.order_by().values_list("user_id", "location_label").distinct():
        if is_home(label, aliases_by_user.get(user_id, [])):
            home |= Q(user_id=user_id, location_label=label)
    return home


@dataclass(frozen=True)
class CarSummary:
    sessions: int
    kwh: Decimal
    cost_gbp: Decimal
    miles: int
    efficiency_mpkwh: Decimal | None
    efficiency_source: EfficiencySource
    ev_ppm: Decimal | None
    petrol_ppm: Decimal
    savings_gbp: Decimal | None
    home_kwh: Decimal

    @property
    def cheaper_than_petrol(self) -> bool | None:
        return None if self.ev_ppm is None else self.ev_ppm < self.petrol_ppm


def car_efficiency(
    *, miles: int, kwh_after_baseline: Decimal, car_figure: Decimal | None, settings: UserSettings
) -> tuple[Decimal | None, EfficiencySource]:
    """Measured efficiency when there is enough data, else the fallback chain if allowed."""
    if miles >= MIN_MILES_FOR_MEASURED and kwh_after_baseline >= MIN_KWH_FOR_MEASURED:
        return Decimal(miles) / kwh_after_baseline, EfficiencySource.MEASURED
    if not settings.allow_efficiency_fallback:
        return None, EfficiencySource.NOT_ENOUGH_DATA
    if car_figure is not None:
        return car_figure, EfficiencySource.CAR_FIGURE
    return settings.default_efficiency_mpkwh, EfficiencySource.DEFAULT_SETTING


def car_summary(*, car, settings: UserSettings) -> CarSummary:
    """Totals, efficiency, cost per mile and savings of one car (see car_summaries)."""
    return car_summaries(cars=[car], settings_by_user={car.user_id: settings})[car.pk]


def car_summaries(*, cars: Iterable[Car], settings_by_user: dict[int, UserSettings]) -> dict[int, CarSummary]:
    """The summary of each car (by its id), each by its owner's settings: summed by the database in
    exact whole units (see _Units), in four queries however many cars and sessions there are."""
    cars = list(cars)
    sessions = ChargingSession.objects.filter(car__in=cars).order_by()
    aliases = {user_id: settings.home_aliases_csv for user_id, settings in settings_by_user.items()}
    home = home_location_labels(sessions, aliases)
    totals = {
        row["car_id"]: row
        for row in sessions.values("car_id").annotate(
            count=Count("id"),
            kwh=Sum(_Units.KWH),
            cost=Sum(_Units.COST),
            costed_kwh=_sum_where(_Units.PRICED, _Units.KWH),
            home_kwh=_sum_where(home, _Units.KWH),
        )
    }
    # The baseline is each car's earliest session (kept by every write); the latest, by the chronological index.
    baselines = {
        car_id: (odometer, kwh)
        for car_id, odometer, kwh in sessions.filter(is_baseline=True).values_list(
            "car_id", "odometer", "charge_delivered_kwh"
        )
    }
    latest = ChargingSession.objects.filter(car=OuterRef("pk")).order_by(*(f"-{name}" for name in CHRONOLOGICAL))
    last_odometers = dict(
        Car.objects.filter(pk__in=[car.pk for car in cars])
        .annotate(last_odometer=Subquery(latest.values("odometer")[:1]))
        .values_list("pk", "last_odometer")
    )
    return {
        car.pk: _summary(
            car, totals.get(car.pk), baselines.get(car.pk), last_odometers.get(car.pk), settings_by_user[car.user_id]
        )
        for car in cars
    }


def _summary(car, totals: dict | None, baseline: tuple | None, last_odometer: int | None, settings) -> CarSummary:
    totals = totals or {"count": 0, "kwh": 0, "cost": 0, "costed_kwh": 0, "home_kwh": 0}
    count, kwh, cost = totals["count"], _Units.kwh(totals["kwh"]), _Units.cost(totals["cost"])
    costed_kwh, home_kwh = _Units.kwh(totals["costed_kwh"]), _Units.kwh(totals["home_kwh"])
    baseline_odometer, baseline_kwh = baseline or (None, Decimal(0))
    miles = max(last_odometer - baseline_odometer, 0) if count else 0
    efficiency, source = car_efficiency(
        miles=miles, kwh_after_baseline=kwh - baseline_kwh, car_figure=car.efficiency_mpkwh, settings=settings
    )
    petrol_ppm = petrol_pence_per_mile(settings)
    ev_ppm = None
    if efficiency and costed_kwh > 0:
        ev_ppm = 100 * (cost / costed_kwh) / efficiency
    savings = None if ev_ppm is None else (petrol_ppm - ev_ppm) * miles / 100
    return CarSummary(
        sessions=count,
        kwh=kwh,
        cost_gbp=cost,
        miles=miles,
        efficiency_mpkwh=efficiency,
        efficiency_source=source,
        ev_ppm=ev_ppm,
        petrol_ppm=petrol_ppm,
        savings_gbp=savings,
        home_kwh=home_kwh,
    )


@dataclass
class MonthFigures:
    """One calendar month of a car's charging."""

    month: dt.date  # the first day of the month
    home_kwh: Decimal = Decimal(0)
    public_kwh: Decimal = Decimal(0)
    home_cost_gbp: Decimal = Decimal(0)
    public_cost_gbp: Decimal = Decimal(0)
    efficiency_miles: int = 0  # miles of the sessions with a plausible efficiency ...
    efficiency_kwh: Decimal = Decimal(0)  # ... and their kWh
    costed_miles: int = 0  # miles of those sessions that also have a cost ...
    costed_gbp: Decimal = Decimal(0)  # ... and that cost

    @property
    def efficiency_mpkwh(self) -> Decimal | None:
        return Decimal(self.efficiency_miles) / self.efficiency_kwh if self.efficiency_kwh else None

    @property
    def ev_ppm(self) -> Decimal | None:
        return ev_pence_per_mile(self.costed_gbp, self.costed_miles)


def car_months(*, car, settings: UserSettings) -> list[MonthFigures]:
    """A car's charging month by month (months without sessions included), oldest first.

    A session's miles are those since the previous session, as in the session list; they count
    towards the month's efficiency and cost per mile only when the session's efficiency is
    plausible, so one missed session does not distort a month.
    """
    sessions = car.sessions.order_by()
    home = home_location_labels(sessions, {car.user_id: settings.home_aliases_csv})
    miles = F("odometer") - F("odometer_before")
    # A plausible session efficiency (see session_efficiency), in whole units: 1 <= miles / kWh <= 7.
    plausible = Q(odometer_before__isnull=False, miles__gt=0, kwh_units__gt=0) & Q(
        miles_units__gte=F("kwh_units") * int(PLAUSIBLE_SESSION_EFFICIENCY[0]),
        miles_units__lte=F("kwh_units") * int(PLAUSIBLE_SESSION_EFFICIENCY[1]),
    )
    rows = (
        sessions.annotate(
            month=date_truncated("date", "month", connection.vendor),
            home=Case(When(home, then=Value(True)), default=Value(False)),
            miles=miles, miles_units=miles * 1000, kwh_units=_Units.KWH,
        )
        .values("month", "home")
        .annotate(
            kwh=Sum(_Units.KWH), cost=Sum(_Units.COST),
            efficiency_miles=_sum_where(plausible, miles),
            efficiency_kwh=_sum_where(plausible, _Units.KWH),
            costed_miles=_sum_where(plausible & _Units.PRICED, miles),
            costed_cost=_sum_where(plausible & _Units.PRICED, _Units.COST),
        )
    )  # fmt: skip
    months: dict[dt.date, MonthFigures] = {}
    for row in rows:
        first_day = truncated_date(row["month"])
        month = months.setdefault(first_day, MonthFigures(first_day))
        if row["home"]:
            month.home_kwh += _Units.kwh(row["kwh"])
            month.home_cost_gbp += _Units.cost(row["cost"])
        else:
            month.public_kwh += _Units.kwh(row["kwh"])
            month.public_cost_gbp += _Units.cost(row["cost"])
        month.efficiency_miles += row["efficiency_miles"] or 0
        month.efficiency_kwh += _Units.kwh(row["efficiency_kwh"])
        month.costed_miles += row["costed_miles"] or 0
        month.costed_gbp += _Units.cost(row["costed_cost"])
    if not months:
        return []
    first, last = min(months), max(months)
    every_month, month = [], first
    while month <= last:
        every_month.append(months.get(month, MonthFigures(month)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return every_month


class _Units:
    """Amounts summed by the database in whole units, so that SQLite (which keeps decimals as
    floating point) sums them as exactly as Python's Decimal does: kWh in thousandths, prices in
    ten-thousandths of a pound per kWh, totals in pence, and costs in ten-millionths of a pound (a
    price times a kWh)."""

    KWH = Cast(Round(F("charge_delivered_kwh") * 1000), BigIntegerField())
    PRICED = Q(total_cost_gbp__isnull=False) | Q(cost_per_kwh__isnull=False)
    # A session's cost: its total when given, else price × kWh (session_cost_gbp); none without either.
    COST = Case(
        When(total_cost_gbp__isnull=False, then=Cast(Round(F("total_cost_gbp") * 100), BigIntegerField()) * 100_000),
        When(cost_per_kwh__isnull=False, then=Cast(Round(F("cost_per_kwh") * 10_000), BigIntegerField()) * KWH),
        output_field=BigIntegerField(),
    )

    @staticmethod
    def kwh(units: int | None) -> Decimal:
        return Decimal(units or 0).scaleb(-3)

    @staticmethod
    def cost(units: int | None) -> Decimal:
        return Decimal(units or 0).scaleb(-7)


def _sum_where(condition: Q, amount) -> Sum:
    """The sum of `amount` over the rows matching `condition` (0 when none do, or none could)."""
    return Sum(Case(When(condition, then=amount), default=Value(0), output_field=BigIntegerField()))


FULL_CHARGE_SOC = 95


@dataclass(frozen=True)
class FullChargeStatus:
    last_full_charge: dt.date | None
    due: dt.date | None  # None when there has been no full charge yet
    today: dt.date

    @property
    def days_since(self) -> int | None:
        return None if self.last_full_charge is None else (self.today - self.last_full_charge).days

    @property
    def overdue_days(self) -> int:
        return 0 if self.due is None else max((self.today - self.due).days, 0)

    @property
    def text(self) -> str:
        if self.last_full_charge is None:
            return f"No full charge (SoC ≥ {FULL_CHARGE_SOC}%) recorded yet: one is due."
        since = f"Last full charge {self.last_full_charge:%d %b %Y}, {self.days_since} days ago"
        if self.overdue_days:
            return f"{since}: overdue by {self.overdue_days} days."
        return f"{since}: next due by {self.due:%d %b %Y}."


def full_charge_status(*, car, today: dt.date | None = None) -> FullChargeStatus | None:
    """For a car with the reminder on: its last charge to ≥ 95% and when the next is due."""
    if not car.recommended_full_charge_enabled:
        return None
    today = today or dt.date.today()
    last = car.sessions.filter(soc_to__gte=FULL_CHARGE_SOC).order_by("-date").values_list("date", flat=True).first()
    if last is None:
        return FullChargeStatus(None, None, today)
    every = car.recommended_full_charge_frequency_value
    if car.recommended_full_charge_frequency_unit == "days":
        due = last + dt.timedelta(days=every)
    else:
        month_index = last.month - 1 + every
        year, month = last.year + month_index // 12, month_index % 12 + 1
        due = last.replace(year=year, month=month, day=min(last.day, calendar.monthrange(year, month)[1]))
    return FullChargeStatus(last, due, today)

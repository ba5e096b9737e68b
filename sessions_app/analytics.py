"""Analytics selectors (docs/analytics.md): efficiency, home detection, costs and the petrol comparison.

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

from django.db.models import Max, Q, Sum
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.dates import date_text
from settings_app.petrol import petrol_pence_per_mile
from settings_app.services import UserSettings

from .models import ChargingSession, MonthLabelTotal
from .plausibility import PLAUSIBLE_SESSION_EFFICIENCY, efficiency_plausible
from .totals import FULL_CHARGE_SOC, Units

# Below these, a measured car efficiency is noise.
MIN_MILES_FOR_MEASURED = 50
MIN_KWH_FOR_MEASURED = Decimal(20)


class EfficiencySource(StrEnum):
    MEASURED = "measured"
    CAR_FIGURE = "car figure"
    DEFAULT_SETTING = "default setting"
    NOT_ENOUGH_DATA = "not enough data"


def is_home(location_label: str, charge_network: str, settings: UserSettings) -> bool:
    """At home: the location contains one of the home words, and the network none of the public
    networks' names (a public charger at "Dundee House" is not home), as whole words, any case."""
    return has_a_word(location_label, settings.home_aliases_csv) and not has_a_word(
        charge_network, settings.public_networks_csv
    )


def has_a_word(text: str, words: Iterable[str]) -> bool:
    """True when `text` contains one of `words` as a whole word (or words), ignoring case."""
    pattern = _words_pattern(tuple(words))
    return bool(text) and pattern is not None and pattern.search(text) is not None


@functools.lru_cache(maxsize=256)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern | None:
    # Built once per list of words, not per session (it was half the time of a car's analytics).
    escaped = [re.escape(word.strip()) for word in words if word.strip()]
    return re.compile(rf"\b(?:{'|'.join(escaped)})\b", re.IGNORECASE) if escaped else None


def session_efficiency(miles: int | None, kwh: Decimal) -> Decimal | None:
    """Miles since the previous session over this session's kWh; None when not a sensible figure."""
    if miles is None or miles <= 0 or kwh <= 0:
        return None
    efficiency = Decimal(miles) / kwh
    return efficiency if efficiency_plausible(efficiency) else None


def ev_pence_per_mile(cost_gbp: Decimal | None, miles: int | None) -> Decimal | None:
    if cost_gbp is None or not miles or miles <= 0:
        return None
    return 100 * cost_gbp / miles


def effective_power_kw(session: ChargingSession, settings: UserSettings) -> Decimal | None:
    """The session's power, or the assumed home charging power for a home session left blank."""
    if session.charge_power_kw is None and is_home(session.location_label, session.charge_network, settings):
        return settings.home_charging_speed_kw
    return session.charge_power_kw


def home_sessions(settings_by_user: dict[int, UserSettings]) -> Q:
    """A filter matching these users' home sessions, each user judged by their own settings.

    Whole-word matching differs between databases' regex dialects, so the (few) distinct locations
    and networks are classified here in Python, read from the month totals rather than from every
    session, and the filter is a plain `IN` per home location.
    """
    places = MonthLabelTotal.objects.filter(car__user_id__in=settings_by_user)
    home_networks: dict[tuple[int, str], set[str]] = {}
    for user_id, label, network in places.values_list("car__user_id", "location_label", "charge_network").distinct():
        if is_home(label, network, settings_by_user[user_id]):
            home_networks.setdefault((user_id, label), set()).add(network)
    home = Q(pk__in=[])
    for (user_id, label), networks in home_networks.items():
        home |= Q(user_id=user_id, location_label=label, charge_network__in=sorted(networks))
    return home


@dataclass(frozen=True)
class HomeWordCandidate:
    """A place, named by its location label, where most of a car's energy is charged and which is
    neither home (no home word) nor public (on no public network): evcc's "Carport" or "Wallbox",
    likely the owner's home under a name the home words do not know."""

    label: str
    kwh: Decimal
    car_kwh: Decimal  # all the car's kWh

    @property
    def share_percent(self) -> Decimal:
        return 100 * self.kwh / self.car_kwh


def home_word_candidate(*, car, settings: UserSettings) -> HomeWordCandidate | None:
    """The place to ask "Is Carport your home?" about, or None: read from the car's month totals
    (kWh by location label and network), not its sessions.

    Asked only when the place holds more than half of the car's kWh, is not already home by a home
    word nor on a public network, was not answered "no" (`not_home_places_csv`), and would be home
    if its label were added as a home word (a label with a comma, or one that does not begin and end
    with a letter or digit, cannot be one whole word). Labels differing only in case are one place.
    """
    rows = car.month_label_totals.values("location_label", "charge_network").annotate(kwh=Sum("kwh_units"))
    car_units, places = 0, {}  # places: {label casefolded: {spelling: kWh units}}
    for row in rows.order_by():
        car_units += row["kwh"]
        label, network = row["location_label"].strip(), row["charge_network"]
        if not label or is_home(label, network, settings) or has_a_word(network, settings.public_networks_csv):
            continue
        spellings = places.setdefault(label.casefold(), {})
        spellings[label] = spellings.get(label, 0) + row["kwh"]
    if not places or car_units <= 0:
        return None
    spellings = max(places.values(), key=lambda spellings: sum(spellings.values()))
    units = sum(spellings.values())
    label = max(spellings, key=lambda spelling: (spellings[spelling], spelling))  # as most of its kWh spell it
    declined = {word.strip().casefold() for word in settings.not_home_places_csv}
    if 2 * units <= car_units or label.casefold() in declined or "," in label or not has_a_word(label, [label]):
        return None
    return HomeWordCandidate(label=label, kwh=Units.kwh(units), car_kwh=Units.kwh(car_units))


@dataclass(frozen=True)
class CarSummary:
    sessions: int
    kwh: Decimal
    cost_gbp: Decimal  # of the priced sessions only: a session without a price or a cost is not free
    priced_sessions: int
    miles: int  # since the previous session, summed over the sessions counted for efficiency
    efficiency_mpkwh: Decimal | None
    efficiency_source: EfficiencySource
    ev_ppm: Decimal | None
    petrol_ppm: Decimal
    savings_gbp: Decimal | None
    home_kwh: Decimal
    left_out: int = 0  # flagged sessions, left out of miles, efficiency and cost per mile
    efficiency_note: str = ""  # why the measured figure was not used, when it was not plausible
    # Of cost_gbp, the part estimated by the owner's tariffs (sessions without a recorded cost), and how many
    # sessions that is; of the home kWh, those split by a tariff's bands, and of them the off-peak ones.
    estimated_sessions: int = 0
    estimated_cost_gbp: Decimal = Decimal(0)
    home_banded_kwh: Decimal = Decimal(0)
    home_off_peak_kwh: Decimal = Decimal(0)

    @property
    def estimated_percent(self) -> Decimal | None:
        """The share of the cost that is estimated, in percent (None with no cost at all)."""
        return 100 * self.estimated_cost_gbp / self.cost_gbp if self.cost_gbp else None

    @property
    def home_off_peak_percent(self) -> Decimal | None:
        """The share of the home kWh (those whose band is known) charged off-peak, in percent."""
        return 100 * self.home_off_peak_kwh / self.home_banded_kwh if self.home_banded_kwh else None

    @property
    def cheaper_than_petrol(self) -> bool | None:
        return None if self.ev_ppm is None else self.ev_ppm < self.petrol_ppm

    @property
    def home_share_percent(self) -> Decimal | None:
        """The share of the kWh charged at home, in percent (None with no kWh at all)."""
        return None if not self.kwh else 100 * self.home_kwh / self.kwh

    def efficiency_text(self, unit: str = "") -> str:
        """The efficiency with where it came from, e.g. "3.68 mi/kWh (measured)" (`unit` " mi/kWh")."""
        source = self.efficiency_source.value + (f": {self.efficiency_note}" if self.efficiency_note else "")
        return source if self.efficiency_mpkwh is None else f"{self.efficiency_mpkwh:.2f}{unit} ({source})"


def car_efficiency(
    *, miles: int, kwh: Decimal, car_figure: Decimal | None, settings: UserSettings
) -> tuple[Decimal | None, EfficiencySource, str]:
    """Measured efficiency (`miles` over `kwh`, those of the sessions counted) when there is enough
    data and it is plausible, else the fallback chain if allowed. The third value says why a measured
    figure was not used ("" when it was, or when there was too little data to measure)."""
    note = ""
    if miles >= MIN_MILES_FOR_MEASURED and kwh >= MIN_KWH_FOR_MEASURED:
        measured = Decimal(miles) / kwh
        if efficiency_plausible(measured):
            return measured, EfficiencySource.MEASURED, ""
        low, high = PLAUSIBLE_SESSION_EFFICIENCY
        note = f"measured {measured:.2f} mi/kWh is outside {low}–{high}"
    if not settings.allow_efficiency_fallback:
        return None, EfficiencySource.NOT_ENOUGH_DATA, note
    if car_figure is not None:
        return car_figure, EfficiencySource.CAR_FIGURE, note
    return settings.default_efficiency_mpkwh, EfficiencySource.DEFAULT_SETTING, note


def car_summary(*, car, settings: UserSettings, months: tuple[dt.date, dt.date] | None = None) -> CarSummary:
    """Totals, efficiency, cost per mile and savings of one car (see car_summaries)."""
    return car_summaries(cars=[car], settings_by_user={car.user_id: settings}, months=months)[car.pk]


def car_summaries(
    *, cars: Iterable[Car], settings_by_user: dict[int, UserSettings], months: tuple[dt.date, dt.date] | None = None
) -> dict[int, CarSummary]:
    """The summary of each car (by its id), each by its owner's settings: read from the cars' month
    totals (sessions_app/totals.py), in one query however many cars and sessions there are. `months`:
    only those from the first to the last given (each a month's first day), e.g. this year's."""
    cars = list(cars)
    totals = {car.pk: _CarTotals() for car in cars}
    month_totals = MonthLabelTotal.objects.filter(car__in=cars)
    if months is not None:
        month_totals = month_totals.filter(month__gte=months[0], month__lte=months[1])
    rows = (
        month_totals
        .values("car_id", "car__user_id", "location_label", "charge_network", "flagged")
        .annotate(
            sessions=Sum("sessions"), kwh=Sum("kwh_units"), cost=Sum("cost_units"),
            priced_sessions=Sum("priced_sessions"), priced=Sum("priced_kwh_units"),
            miles=Sum("efficiency_miles"), counted_kwh=Sum("efficiency_kwh_units"),
            estimated_sessions=Sum("estimated_sessions"), estimated_cost=Sum("estimated_cost_units"),
            banded=Sum("banded_kwh_units"), off_peak=Sum("off_peak_kwh_units"),
        )
    )  # fmt: skip
    for row in rows:
        car_totals = totals[row["car_id"]]
        car_totals.sessions += row["sessions"]
        car_totals.kwh += row["kwh"]
        car_totals.cost += row["cost"]
        car_totals.priced_sessions += row["priced_sessions"]
        car_totals.miles += row["miles"]
        car_totals.counted_kwh += row["counted_kwh"]
        car_totals.estimated_sessions += row["estimated_sessions"]
        car_totals.estimated_cost += row["estimated_cost"]
        if row["flagged"]:
            car_totals.left_out += row["sessions"]
        else:  # a flagged session's price is left out of the average too (its kWh may be the mistake)
            car_totals.unflagged_cost += row["cost"]
            car_totals.unflagged_priced_kwh += row["priced"]
        if is_home(row["location_label"], row["charge_network"], settings_by_user[row["car__user_id"]]):
            car_totals.home_kwh += row["kwh"]
            car_totals.home_banded_kwh += row["banded"]
            car_totals.home_off_peak_kwh += row["off_peak"]
    return {car.pk: _summary(car, totals[car.pk], settings_by_user[car.user_id]) for car in cars}


@dataclass
class _CarTotals:
    """A car's sums, in the whole units of totals.Units."""

    sessions: int = 0
    kwh: int = 0
    cost: int = 0
    priced_sessions: int = 0
    home_kwh: int = 0
    left_out: int = 0
    miles: int = 0  # of the sessions counted for efficiency ...
    counted_kwh: int = 0  # ... and their kWh
    unflagged_cost: int = 0  # the cost of the sessions not flagged ...
    unflagged_priced_kwh: int = 0  # ... and the kWh of those with a price
    estimated_sessions: int = 0
    estimated_cost: int = 0
    home_banded_kwh: int = 0
    home_off_peak_kwh: int = 0


def _summary(car, totals: _CarTotals, settings: UserSettings) -> CarSummary:
    efficiency, source, note = car_efficiency(
        miles=totals.miles, kwh=Units.kwh(totals.counted_kwh), car_figure=car.efficiency_mpkwh, settings=settings
    )
    petrol_ppm = petrol_pence_per_mile(settings)
    ev_ppm = None
    if efficiency and totals.unflagged_priced_kwh > 0:
        price = Units.cost(totals.unflagged_cost) / Units.kwh(totals.unflagged_priced_kwh)
        ev_ppm = 100 * price / efficiency
    savings = None if ev_ppm is None else (petrol_ppm - ev_ppm) * totals.miles / 100
    return CarSummary(
        sessions=totals.sessions,
        kwh=Units.kwh(totals.kwh),
        cost_gbp=Units.cost(totals.cost),
        priced_sessions=totals.priced_sessions,
        miles=totals.miles,
        efficiency_mpkwh=efficiency,
        efficiency_source=source,
        ev_ppm=ev_ppm,
        petrol_ppm=petrol_ppm,
        savings_gbp=savings,
        home_kwh=Units.kwh(totals.home_kwh),
        left_out=totals.left_out,
        efficiency_note=note,
        estimated_sessions=totals.estimated_sessions,
        estimated_cost_gbp=Units.cost(totals.estimated_cost),
        home_banded_kwh=Units.kwh(totals.home_banded_kwh),
        home_off_peak_kwh=Units.kwh(totals.home_off_peak_kwh),
    )


@dataclass
class MonthFigures:
    """One calendar month of a car's charging."""

    month: dt.date  # the first day of the month
    home_kwh: Decimal = Decimal(0)
    public_kwh: Decimal = Decimal(0)
    home_cost_gbp: Decimal = Decimal(0)
    public_cost_gbp: Decimal = Decimal(0)
    efficiency_miles: int = 0  # miles of the sessions counted for efficiency (not flagged) ...
    efficiency_kwh: Decimal = Decimal(0)  # ... and their kWh
    costed_miles: int = 0  # miles of those sessions that also have a cost ...
    costed_gbp: Decimal = Decimal(0)  # ... and that cost
    home_off_peak_cost_gbp: Decimal = Decimal(0)  # of home_cost_gbp, the cost of the kWh in off-peak bands

    @property
    def home_peak_cost_gbp(self) -> Decimal:
        return self.home_cost_gbp - self.home_off_peak_cost_gbp

    @property
    def efficiency_mpkwh(self) -> Decimal | None:
        return Decimal(self.efficiency_miles) / self.efficiency_kwh if self.efficiency_kwh else None

    @property
    def ev_ppm(self) -> Decimal | None:
        return ev_pence_per_mile(self.costed_gbp, self.costed_miles)


def car_months(*, car, settings: UserSettings) -> list[MonthFigures]:
    """A car's charging month by month (months without sessions included), oldest first, from its
    month totals (see totals.month_label_totals_rebuild for which miles count)."""
    months: dict[dt.date, MonthFigures] = {}
    for total in car.month_label_totals.all():
        month = months.setdefault(total.month, MonthFigures(total.month))
        kwh, cost = Units.kwh(total.kwh_units), Units.cost(total.cost_units)
        if is_home(total.location_label, total.charge_network, settings):
            month.home_kwh += kwh
            month.home_cost_gbp += cost
            month.home_off_peak_cost_gbp += Units.cost(total.off_peak_cost_units)
        else:
            month.public_kwh += kwh
            month.public_cost_gbp += cost
        month.efficiency_miles += total.efficiency_miles
        month.efficiency_kwh += Units.kwh(total.efficiency_kwh_units)
        month.costed_miles += total.costed_miles
        month.costed_gbp += Units.cost(total.costed_cost_units)
    if not months:
        return []
    first, last = min(months), max(months)
    every_month, month = [], first
    while month <= last:
        every_month.append(months.get(month, MonthFigures(month)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return every_month


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
        since = f"Last full charge {date_text(self.last_full_charge)}, {self.days_since} days ago"
        if self.overdue_days:
            return f"{since}: overdue by {self.overdue_days} days."
        return f"{since}: next due by {date_text(self.due)}."


def full_charge_status(*, car, today: dt.date | None = None) -> FullChargeStatus | None:
    """For a car with the reminder on: its last charge to ≥ 95% and when the next is due."""
    if not car.recommended_full_charge_enabled:
        return None
    today = today or timezone.localdate()
    last = car.month_label_totals.aggregate(last=Max("last_full_charge"))["last"]
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

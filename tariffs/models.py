"""Tariffs: what a kWh costs when. An owner's tariff has dated versions (a default price, a standing
charge and time-of-use bands), or half-hourly prices (Agile), or both; assignments say which
tariff prices which sessions. The rules live here, on the models they describe: when a band applies
(`Band.applies_at`), which bands overlap (`bands_overlaps`), which assignment is the most specific
(`Assignment.specificity`). docs/tariffs.md says what they mean."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from plugtrack_site.dates import date_text

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # bit 0 is Monday, as date.weekday()
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
EVERY_DAY = (1 << 7) - 1

# A price in pence per kWh: a band's or a default at most this (a price typed in tenths of a penny,
# say, is refused); a half-hourly price may be negative (Agile pays for use when the grid has too much).
MAX_P_PER_KWH = Decimal(500)
MIN_HALF_HOUR_P_PER_KWH = Decimal(-100)
MAX_STANDING_P_PER_DAY = Decimal(500)
P_DIGITS = {"max_digits": 8, "decimal_places": 4}


def time_zone_check(name: str) -> None:
    """A time zone's IANA name ("Europe/London"), else a ValidationError."""
    if not isinstance(name, str) or name not in _time_zones():
        raise ValidationError(f"“{name[:60] if isinstance(name, str) else name}” is not a time zone: give an IANA "
                              "name such as Europe/London.", code="time zone")  # fmt: skip


def _time_zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = zoneinfo.available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def days_text(mask: int) -> str:
    """A set of weekdays in people's words: "every day", "Mon–Fri", "Sat, Sun"."""
    if mask == EVERY_DAY:
        return "every day"
    names = [name.capitalize() for bit, name in enumerate(WEEKDAYS) if mask & (1 << bit)]
    first, last = WEEKDAYS.index(names[0].lower()), WEEKDAYS.index(names[-1].lower())
    if len(names) >= 3 and mask == (1 << (last + 1)) - (1 << first):  # a run of days
        return f"{names[0]}–{names[-1]}"
    return ", ".join(names)


class Tariff(models.Model):
    """An owner's electricity tariff, priced by its versions (and half-hourly prices, when it holds them)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tariffs")
    name = models.CharField(max_length=80, help_text="E.g. “Intelligent Octopus Go”.")
    time_zone = models.CharField(
        max_length=64, default="Europe/London", validators=[time_zone_check],
        help_text="Where the bands' clock times are read: an IANA name such as Europe/London.",
    )  # fmt: skip
    octopus_product = models.CharField(
        "Octopus product code", max_length=64, blank=True,
        help_text="To fetch half-hourly prices from Octopus Energy, e.g. AGILE-24-10-01.",
    )  # fmt: skip
    octopus_region = models.CharField(
        "Octopus region", max_length=1, blank=True, choices=[(letter, letter) for letter in "ABCDEFGHJKLMNP"],
        help_text="The letter of your area (A–P), as in the tariff code E-1R-AGILE-24-10-01-C.",
    )  # fmt: skip
    fetch_daily = models.BooleanField(
        "fetch prices daily", default=False,
        help_text="The worker fetches the next day's prices each day after 16:00 (needs the product and region).",
    )  # fmt: skip
    fetched_at = models.DateTimeField("prices last fetched", null=True, blank=True, editable=False)
    fetch_note = models.CharField("last fetch", max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="tariff_name_unique_per_user")]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self):
        if self.fetch_daily and not (self.octopus_product and self.octopus_region):
            raise ValidationError({"fetch_daily": "Give the Octopus product code and region to fetch prices daily."})


class TariffVersion(models.Model):
    """A tariff's prices from a date (in the tariff's time zone) until the next version's."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="versions")
    valid_from = models.DateField(help_text="From this day (local midnight), until the next version's.")
    default_p_per_kwh = models.DecimalField(
        "default price (p/kWh)", **P_DIGITS,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_P_PER_KWH)],
        help_text="The price outside every band (a gap between bands is this price).",
    )  # fmt: skip
    standing_p_per_day = models.DecimalField(
        "standing charge (p/day)", **P_DIGITS, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_STANDING_P_PER_DAY)],
        help_text="Reported, not spread over sessions.",
    )  # fmt: skip

    class Meta:
        verbose_name = "tariff version"
        ordering = ["tariff", "valid_from"]
        constraints = [models.UniqueConstraint(fields=["tariff", "valid_from"], name="tariff_version_unique_date")]

    def __str__(self) -> str:
        return f"{self.tariff} from {date_text(self.valid_from)}"


class Band(models.Model):
    """A time-of-use band of a version: on its days (and months), from its start to its end, local
    time. An end at or before the start crosses midnight: Friday 23:30–05:30 runs from Friday 23:30
    to Saturday 05:30, and never prices Saturday night."""

    version = models.ForeignKey(TariffVersion, on_delete=models.CASCADE, related_name="bands")
    name = models.CharField(max_length=40, blank=True, help_text="E.g. “off-peak”. Left blank: its times.")
    days = models.PositiveSmallIntegerField(
        default=EVERY_DAY, validators=[MinValueValidator(1, "Choose at least one day."), MaxValueValidator(EVERY_DAY)],
        help_text="The weekdays it starts on (bit 0 Monday … bit 6 Sunday).",
    )  # fmt: skip
    months = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator((1 << 12) - 1)],
        help_text="The months it applies in (bit 0 January); 0: every month.",
    )  # fmt: skip
    start = models.TimeField(help_text="Local time, e.g. 23:30.")
    end = models.TimeField(help_text="Local time; at or before the start, the next day's.")
    p_per_kwh = models.DecimalField(
        "price (p/kWh)", **P_DIGITS, validators=[MinValueValidator(0), MaxValueValidator(MAX_P_PER_KWH)]
    )

    class Meta:
        ordering = ["version", "start", "id"]

    def __str__(self) -> str:
        return f"{self.label} ({days_text(self.days)}) {self.p_per_kwh.normalize():f}p"

    @property
    def times(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def label(self) -> str:
        return self.name or self.times

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def in_month(self, day: dt.date) -> bool:
        return not self.months or bool(self.months & (1 << (day.month - 1)))

    def applies_at(self, local: dt.datetime) -> bool:
        """Whether the band prices this local wall-clock time: on one of its days from its start
        (to its end, or midnight when it crosses it), or the next morning until its end when it
        crosses midnight. Months are those of the day it started."""
        day, time = local.date(), local.time().replace(tzinfo=None, fold=0)
        if self.crosses_midnight:
            if time >= self.start:
                return self._starts_on(day)
            return time < self.end and self._starts_on(day - dt.timedelta(days=1))
        return self.start <= time < self.end and self._starts_on(day)

    def _starts_on(self, day: dt.date) -> bool:
        return bool(self.days & (1 << day.weekday())) and self.in_month(day)


@dataclass(frozen=True)
class _Stretch:
    """One band on one weekday, in minutes of the week (Monday 00:00 is 0)."""

    band: int  # its index in the version's bands
    weekday: int
    start: int
    end: int
    months: int  # the months it may fall in (0: every month)


def _stretches(index: int, band: Band) -> list[_Stretch]:
    """The band's stretches of the week: one per day it starts on, and the morning after when it
    crosses midnight (which may fall in the next month, and on Sunday night wraps to Monday)."""
    week, start_of_band = 7 * 1440, band.start.hour * 60 + band.start.minute
    length = (band.end.hour * 60 + band.end.minute - start_of_band) % 1440 or 1440
    next_months = (band.months | (band.months << 1) | (band.months >> 11)) & 0xFFF
    stretches = []
    for weekday in (day for day in range(7) if band.days & (1 << day)):
        start, midnight = weekday * 1440 + start_of_band, (weekday + 1) * 1440
        end = start + length
        pieces = [(start, min(end, midnight), band.months)]
        if end > midnight:
            pieces.append((midnight % week, midnight % week + end - midnight, next_months))
        stretches += [_Stretch(index, weekday, a, b, months) for a, b, months in pieces]
    return stretches


def bands_overlaps(bands: list[Band]) -> list[str]:
    """Where two bands price the same time, in people's words ("Friday 23:30–05:30 overlaps Friday
    22:00–00:30"), the first of each pair of bands; [] when none do. A gap is allowed: the default
    price. Bands in months that never meet do not overlap."""
    stretches = sorted((s for i, band in enumerate(bands) for s in _stretches(i, band)), key=lambda s: s.start)
    found, said = [], set()
    for position, first in enumerate(stretches):
        for second in stretches[position + 1 :]:
            if second.start >= first.end:
                break
            if first.band == second.band or (first.band, second.band) in said:
                continue
            if first.months and second.months and not first.months & second.months:
                continue
            pair = sorted([first, second], key=lambda s: (s.band, s.weekday))
            said.add((first.band, second.band))
            said.add((second.band, first.band))
            a, b = (bands[s.band] for s in pair)
            first_day, second_day = WEEKDAY_NAMES[pair[0].weekday], WEEKDAY_NAMES[pair[1].weekday]
            found.append(f"{first_day} {a.times} overlaps {second_day} {b.times}")
    return found


class HalfHourPrice(models.Model):
    """A price for one half hour (UTC), e.g. fetched from Octopus Agile: it wins over the bands."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="prices")
    start = models.DateTimeField()
    end = models.DateTimeField()
    p_per_kwh = models.DecimalField(
        "price (p/kWh, incl. VAT)", **P_DIGITS,
        validators=[MinValueValidator(MIN_HALF_HOUR_P_PER_KWH), MaxValueValidator(MAX_P_PER_KWH)],
    )  # fmt: skip

    class Meta:
        verbose_name = "half-hourly price"
        ordering = ["tariff", "start"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "start"], name="half_hour_price_unique_start"),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="half_hour_price_ends_after"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}Z {self.p_per_kwh.normalize():f}p"


class Assignment(models.Model):
    """Which tariff prices which of an owner's sessions from a date: all of them, a car's, those at
    home or in public, or those at a location. The most specific wins: a car and a place > a place
    (a location label > home or public) > a car > the owner; among equals, the latest date."""

    class Where(models.TextChoices):
        HOME = "home", "home"
        PUBLIC = "public", "public"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tariff_assignments")
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="assignments")
    valid_from = models.DateField(help_text="Sessions from this date on.")
    car = models.ForeignKey(
        "cars_app.Car", on_delete=models.CASCADE, null=True, blank=True, related_name="tariff_assignments",
        help_text="Only this car's sessions (blank: every car).",
    )  # fmt: skip
    where = models.CharField(
        max_length=6, choices=Where.choices, blank=True, help_text="Only home or only public sessions (blank: both)."
    )
    location_label = models.CharField(
        "location", max_length=120, blank=True, help_text="Only sessions at this location (any case; blank: any)."
    )

    class Meta:
        verbose_name = "tariff assignment"
        ordering = ["valid_from", "id"]

    def __str__(self) -> str:
        return f"{self.tariff} for {self.scope_text} from {date_text(self.valid_from)}"

    @property
    def scope_text(self) -> str:
        place = f"“{self.location_label}”" if self.location_label else f"{self.where} sessions" if self.where else ""
        if self.car_id:
            return f"{self.car}" + (f" at {place}" if place else "")
        return place or "every session"

    @property
    def specificity(self) -> int:
        """Higher wins: car + location (label 5, home/public 4) > location (3, 2) > car (1) > owner (0)."""
        place = 3 if self.location_label else 2 if self.where else 0
        if place:
            return place + 2 * bool(self.car_id)
        return 1 if self.car_id else 0

    def matches(self, *, car_id: int, location_label: str, at_home: bool) -> bool:
        if self.car_id and self.car_id != car_id:
            return False
        if self.where and (self.where == self.Where.HOME) != at_home:
            return False
        return not self.location_label or self.location_label.strip().casefold() == location_label.strip().casefold()


class CostRecompute(models.Model):
    """One applied recompute of an owner's sessions' worked-out costs: what changed, so that it can
    be undone (the previous figures of each session it changed are kept in its changes)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_recomputes")
    created_at = models.DateTimeField("applied", auto_now_add=True)
    car = models.ForeignKey("cars_app.Car", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    sessions_changed = models.PositiveIntegerField(default=0)
    total_before_gbp = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    total_after_gbp = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    undone_at = models.DateTimeField("undone", null=True, blank=True)

    class Meta:
        verbose_name = "cost recompute"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Recompute of {self.created_at:%d %b %Y %H:%M}: {self.sessions_changed} sessions changed"


class CostChange(models.Model):
    """A session's worked-out cost before a recompute changed it: what its undo writes back."""

    recompute = models.ForeignKey(CostRecompute, on_delete=models.CASCADE, related_name="changes")
    session = models.ForeignKey("sessions_app.ChargingSession", on_delete=models.CASCADE, related_name="+")
    previous = models.JSONField(help_text="The session's estimate, source and breakdown before.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recompute", "session"], name="cost_change_unique_session")]

    def __str__(self) -> str:
        return f"session {self.session_id}"

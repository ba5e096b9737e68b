"""What a tariff charges when, and what a session cost under it (docs/tariffs.md, "How a cost is
worked out").

A tariff's prices are loaded once (`TariffPrices`): its versions with their bands, and its
half-hourly prices over the dates asked for. Each local day becomes a schedule of periods at one
price each, in UTC (so a night when the clocks change is 7 or 9 hours long); a half-hourly price,
where one is stored, wins over the schedule. A session's kWh are split across the periods it
overlaps by elapsed time, in Decimal; the rounding remainder goes to the largest part, so that the
parts sum exactly to its kWh; its cost is rounded to the penny once, at the end."""

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from .models import Band, TariffVersion

UTC = dt.UTC
KWH_STEP = Decimal("0.001")  # a session's kWh has three decimals: its parts too
PENCE_STEP = Decimal("0.0001")
PENNY = Decimal("0.01")
DEFAULT_LABEL = "standard"
HALF_HOURLY_LABEL = "half-hourly"
SLOT = dt.timedelta(minutes=30)
PROFILE_SLOTS = 96  # a date-only session's profile: the half hours of its day and the next (it may run overnight)


@dataclass(frozen=True)
class Period:
    """A stretch of time (UTC) at one price; `p_per_kwh` None where the tariff has no price."""

    start: dt.datetime
    end: dt.datetime
    p_per_kwh: Decimal | None
    label: str
    off_peak: bool = False

    @property
    def length(self) -> int:
        """In microseconds: whole numbers to share kWh by."""
        return (self.end - self.start) // dt.timedelta(microseconds=1)

    def clipped(self, start: dt.datetime, end: dt.datetime) -> "Period":
        return Period(max(start, self.start), min(end, self.end), self.p_per_kwh, self.label, self.off_peak)


@dataclass(frozen=True)
class Part:
    """One band's share of a session: its kWh and their cost in pence (unrounded)."""

    label: str
    kwh: Decimal
    p_per_kwh: Decimal
    off_peak: bool

    @property
    def pence(self) -> Decimal:
        return self.kwh * self.p_per_kwh


@dataclass(frozen=True)
class Estimate:
    """A session's worked-out cost (pounds, to the penny) with its parts by band."""

    cost_gbp: Decimal
    parts: tuple[Part, ...]
    method: str  # "times" or "date"
    tariff: str

    @property
    def off_peak_kwh(self) -> Decimal:
        return sum((part.kwh for part in self.parts if part.off_peak), Decimal(0))

    @property
    def off_peak_cost_gbp(self) -> Decimal:
        pence = sum((part.pence for part in self.parts if part.off_peak), Decimal(0))
        return (pence / 100).quantize(PENCE_STEP)

    def breakdown(self) -> dict:
        """The parts grouped by band, as the session keeps them (small: a band once)."""
        bands: dict[tuple[str, bool], list[Decimal]] = {}
        for part in self.parts:
            kwh_pence = bands.setdefault((part.label, part.off_peak), [Decimal(0), Decimal(0)])
            kwh_pence[0] += part.kwh
            kwh_pence[1] += part.pence
        return {
            "method": self.method, "tariff": self.tariff,
            "bands": [
                {"band": label, "off_peak": off_peak, "kwh": f"{kwh:.3f}", "pence": f"{pence.quantize(PENCE_STEP)}"}
                for (label, off_peak), (kwh, pence) in bands.items()
            ],
        }  # fmt: skip


def kwh_split(kwh: Decimal, weights: list[int]) -> list[Decimal]:
    """`kwh` shared by `weights` (seconds, or a profile's units), each part to the thousandth of a
    kWh, the rounding remainder given to the largest part, so that the parts sum exactly to `kwh`."""
    total = sum(weights)
    parts = [(kwh * weight / total).quantize(KWH_STEP, rounding=ROUND_HALF_UP) for weight in weights]
    largest = max(range(len(parts)), key=lambda index: (weights[index], -index))
    parts[largest] += kwh - sum(parts)
    return parts


def cost_of_parts(parts: Iterable[Part]) -> Decimal:
    """The parts' cost in pounds, rounded to the penny once (half up)."""
    pence = sum((part.pence for part in parts), Decimal(0))
    return (pence / 100).quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass
class _Version:
    valid_from: dt.date
    default: Decimal
    bands: list[Band]
    times: tuple[dt.time, ...] = field(init=False)
    priced: list[tuple[Band, tuple[Decimal, str, bool]]] = field(init=False)

    def __post_init__(self):
        self.times = tuple(sorted({band.start for band in self.bands} | {band.end for band in self.bands}))
        self.priced = [(band, (band.p_per_kwh, band.label, band.p_per_kwh < self.default)) for band in self.bands]

    def price_at(self, local: dt.datetime) -> tuple[Decimal, str, bool]:
        for band, price in self.priced:
            if band.applies_at(local):
                return price
        return self.default, DEFAULT_LABEL, False


class TariffPrices:
    """One tariff's prices, loaded once for many sessions: `periods(start, end)` gives the periods
    of one price between two instants; each local day's schedule is worked out once."""

    def __init__(self, *, name: str, time_zone: str, versions: Iterable[TariffVersion],
                 half_hours: Iterable[tuple[dt.datetime, dt.datetime, Decimal]] = ()):  # fmt: skip
        self.name = name
        self.zone = ZoneInfo(time_zone)
        self._versions = [
            _Version(version.valid_from, version.default_p_per_kwh, list(version.bands.all()))
            for version in sorted(versions, key=lambda version: version.valid_from)
        ]
        self._version_starts = [version.valid_from for version in self._versions]
        self._half_hours = sorted(half_hours)
        self._half_hour_starts = [start for start, _end, _p in self._half_hours]
        self._days: dict[dt.date, list[Period]] = {}
        self._coverage: dict[tuple, list] = {}  # (see day_coverage)
        self._templates: dict[tuple, list] = {}  # (see _schedule)

    @classmethod
    def of(cls, tariff, *, start: dt.datetime | None = None, end: dt.datetime | None = None) -> "TariffPrices":
        """A Tariff's prices, its half-hourly prices between `start` and `end` (all of them when not given)."""
        prices = tariff.prices.order_by("start")
        if start is not None:
            prices = prices.filter(end__gt=start)
        if end is not None:
            prices = prices.filter(start__lt=end)
        return cls(
            name=tariff.name, time_zone=tariff.time_zone, versions=tariff.versions.prefetch_related("bands"),
            half_hours=prices.values_list("start", "end", "p_per_kwh").iterator(chunk_size=5000),
        )  # fmt: skip

    def version_on(self, day: dt.date) -> _Version | None:
        index = bisect.bisect_right(self._version_starts, day) - 1
        return self._versions[index] if index >= 0 else None

    def local_midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone).astimezone(UTC)

    def day_schedule(self, day: dt.date) -> list[Period]:
        """The local day's periods of one price each, in UTC, from its midnight to the next."""
        if day not in self._days:
            if len(self._days) >= 1024:  # sessions come in date order: the days before are done with
                self._days.clear()
            self._days[day] = self._schedule(day)
        return self._days[day]

    def _schedule(self, day: dt.date) -> list[Period]:
        """A day without a clock change is priced as every such day of its version, weekday and months
        (the day before's too: a band from the night before), so its periods are those of a template
        worked out once for them, moved to its midnight; a day when the clocks change is worked out alone."""
        start, end = self.local_midnight(day), self.local_midnight(day + dt.timedelta(days=1))
        version = self.version_on(day)
        if version is None:
            return [Period(start, end, None, "no price")]
        if end - start != dt.timedelta(days=1):
            return self._schedule_built(day, start, end, version)
        key = (id(version), day.weekday(), (day - dt.timedelta(days=1)).month, day.month)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = [
                (period.start - start, period.end - start, period.p_per_kwh, period.label, period.off_peak)
                for period in self._schedule_built(day, start, end, version)
            ]
        return [Period(start + first, start + second, price, label, off_peak)
                for first, second, price, label, off_peak in template]  # fmt: skip

    def _schedule_built(self, day: dt.date, start: dt.datetime, end: dt.datetime, version: _Version) -> list[Period]:
        instants = {start, end, *_clock_changes(self.zone, start, end)}
        for time in version.times:
            for fold in (0, 1):  # a time the clocks pass twice, and one they skip
                instant = dt.datetime.combine(day, time, tzinfo=self.zone).replace(fold=fold).astimezone(UTC)
                if start < instant < end:
                    instants.add(instant)
        periods: list[Period] = []
        ordered = sorted(instants)
        for first, second in zip(ordered, ordered[1:], strict=False):
            price, label, off_peak = version.price_at(first.astimezone(self.zone))
            if periods and (periods[-1].p_per_kwh, periods[-1].label) == (price, label):
                periods[-1] = Period(periods[-1].start, second, price, label, off_peak)
            else:
                periods.append(Period(first, second, price, label, off_peak))
        return periods

    def _scheduled(self, start: dt.datetime, end: dt.datetime) -> list[Period]:
        periods = []
        day = start.astimezone(self.zone).date()
        while True:
            for period in self.day_schedule(day):
                if period.end > start and period.start < end:
                    periods.append(period.clipped(start, end))
            if self.local_midnight(day + dt.timedelta(days=1)) >= end:
                return periods
            day += dt.timedelta(days=1)

    def periods(self, start: dt.datetime, end: dt.datetime) -> list[Period]:
        """The periods of one price between two instants (UTC): a half-hourly price where one is
        stored, else the day's schedule (its bands, else the default price)."""
        periods, cursor = [], start
        index = max(bisect.bisect_right(self._half_hour_starts, start) - 1, 0)
        for half_start, half_end, price in self._half_hours[index:]:
            if half_start >= end:
                break
            if half_end <= cursor:
                continue
            if half_start > cursor:
                periods += self._scheduled(cursor, half_start)
            version = self.version_on(half_start.astimezone(self.zone).date())
            off_peak = version is not None and price < version.default
            label = f"{HALF_HOURLY_LABEL}, off-peak" if off_peak else HALF_HOURLY_LABEL
            periods.append(Period(max(half_start, cursor), min(half_end, end), price, label, off_peak))
            cursor = min(half_end, end)
        if cursor < end:
            periods += self._scheduled(cursor, end)
        merged: list[Period] = []
        for period in periods:
            if period.end <= period.start:
                continue
            if (
                merged
                and merged[-1].end == period.start
                and (merged[-1].p_per_kwh, merged[-1].label) == (period.p_per_kwh, period.label)
            ):  # across midnight
                merged[-1] = Period(merged[-1].start, period.end, period.p_per_kwh, period.label, period.off_peak)
            else:
                merged.append(period)
        return merged

    def profile_slots(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The half hours of a local day and the next, as instants (UTC): the slots of a profile.
        A half hour the clocks skip is empty; one they pass twice is long."""
        return _profile_slots(self.zone, day)

    def day_coverage(self, day: dt.date) -> list[tuple[int, tuple[str, Decimal, bool], int, int]] | None:
        """How the periods price the 96 half hours of an ordinary day and the next (no clock change,
        no half-hourly price, a version on both): (slot, (label, price, off-peak), microseconds, the
        slot's length) in time order. Such windows price alike whenever their versions, weekday and
        months (the day before's too: a band from the night before) are alike, so it is worked out
        once for each. None for any other day."""
        start, middle, end = (self.local_midnight(day + dt.timedelta(days=days)) for days in (0, 1, 2))
        if middle - start != dt.timedelta(days=1) or end - middle != dt.timedelta(days=1):
            return None  # the clocks change
        first, second = self.version_on(day), self.version_on(day + dt.timedelta(days=1))
        if first is None or second is None:
            return None
        index = max(bisect.bisect_right(self._half_hour_starts, start) - 1, 0)
        for half_start, half_end, _price in self._half_hours[index:]:
            if half_start >= end:
                break
            if half_end > start:
                return None  # half-hourly prices
        before = day - dt.timedelta(days=1)
        key = (id(first), id(second), day.weekday(), before.month, day.month, (day + dt.timedelta(days=1)).month)
        coverage = self._coverage.get(key)
        if coverage is None:
            coverage = self._coverage[key] = _slot_pieces(self, day, list(range(PROFILE_SLOTS)))
        return coverage


@lru_cache(maxsize=256)
def _profile_slots(zone: ZoneInfo, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = start + dt.timedelta(days=2)  # (wall clock: what `+` means for an aware datetime)
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    if last - first == SLOT * PROFILE_SLOTS:  # the clocks do not change: 96 even half hours
        instants = [first + SLOT * slot for slot in range(PROFILE_SLOTS + 1)]
    else:
        instants, latest = [], first
        for slot in range(PROFILE_SLOTS + 1):
            local_day = day + dt.timedelta(days=slot // 48)
            time = dt.time((slot % 48) // 2, 30 * (slot % 2))
            latest = max(latest, dt.datetime.combine(local_day, time, tzinfo=zone).astimezone(UTC))
            instants.append(latest)
    return list(zip(instants, instants[1:], strict=False))


def _clock_changes(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The instant the clocks change between `start` and `end` (a day), to the second, if they do."""

    def offset(instant: dt.datetime) -> dt.timedelta:
        return instant.astimezone(zone).utcoffset()

    if offset(start) == offset(end - dt.timedelta(seconds=1)):
        return []
    low, high = start, end - dt.timedelta(seconds=1)  # offset(low) != offset(high)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if offset(middle) == offset(low):
            low = middle
        else:
            high = middle
    return [high]


def charging_window(
    *, started_at: dt.datetime | None, ended_at: dt.datetime | None, duration_mins: int | None
) -> tuple[dt.datetime, dt.datetime] | None:
    """When a session charged: from its start to its end, or for its duration from the start when
    that is shorter (or when there is no end). None without a start, or without an end or a duration."""
    if started_at is None:
        return None
    ends = [ended_at] if ended_at is not None else []
    if duration_mins is not None:
        ends.append(started_at + dt.timedelta(minutes=duration_mins))
    return (started_at, min(ends)) if ends else None


def estimate_from_times(prices: TariffPrices, *, kwh: Decimal, start: dt.datetime, end: dt.datetime) -> Estimate | None:
    """A timed session's cost: its kWh split across the periods it overlaps by elapsed time. None
    when part of it has no price (no version of the tariff yet, no half-hourly price)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    periods = prices.periods(start, end) if end > start else prices.periods(start, start + dt.timedelta(seconds=1))
    if not periods or any(period.p_per_kwh is None for period in periods):
        return None
    shares = kwh_split(kwh, [period.length for period in periods])
    parts = tuple(Part(period.label, share, period.p_per_kwh, period.off_peak)
                  for period, share in zip(periods, shares, strict=True))  # fmt: skip
    return Estimate(cost_of_parts(parts), parts, "times", prices.name)


def profile_of(
    prices: TariffPrices, *, kwh_units: int, start: dt.datetime, end: dt.datetime
) -> tuple[dt.date, list[int]]:
    """A timed session's kWh (in thousandths) in each half hour of its local day and the next, for
    the estimates of sessions with a date only: (its local date, the 96 amounts)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    day = start.astimezone(prices.zone).date()
    slots = prices.profile_slots(day)
    amounts = [0] * PROFILE_SLOTS
    first = max(bisect.bisect_right(slots, (start, _LATEST)) - 1, 0)
    total = (end - start) // dt.timedelta(microseconds=1)  # (whole numbers: the same split everywhere)
    for slot in range(first, PROFILE_SLOTS):
        slot_start, slot_end = slots[slot]
        if slot_start >= end and total > 0:
            break
        if total <= 0:  # an instant: its kWh in its half hour
            if slot_start <= start < slot_end:
                amounts[slot] = kwh_units
                break
            continue
        overlap = (min(end, slot_end) - max(start, slot_start)) // dt.timedelta(microseconds=1)
        if overlap > 0:
            amounts[slot] = kwh_units * overlap // total
    return day, amounts


_LATEST = dt.datetime.max.replace(tzinfo=UTC)


def estimate_from_profile(
    prices: TariffPrices, *, kwh: Decimal, day: dt.date, profile: list[int] | None
) -> Estimate | None:
    """A date-only session's cost: its kWh shared as `profile` shares the half hours of its day and
    the next (the owner's timed sessions'), or, without one, as the whole day's hours are, priced
    by that day's periods. None when part of it has no price."""
    weights = _day_weights(prices, day, tuple(profile) if profile else None)
    if weights is None:
        return None
    shares = kwh_split(kwh, [weight for _key, weight in weights])
    parts = tuple(Part(label, share, price, off_peak) for ((label, price, off_peak), _w), share
                  in zip(weights, shares, strict=True))  # fmt: skip
    return Estimate(cost_of_parts(parts), parts, "date", prices.name)


def _day_weights(prices: TariffPrices, day: dt.date, profile: tuple[int, ...] | None):
    """[((label, price, off-peak), weight)] of a day under a profile (or the whole day's hours), each
    half hour's amount shared by the time each period takes of it. None when part of it has no price.
    On an ordinary day (no clock change, no half-hourly price) from the day's coverage, shared by
    every day that prices the same; otherwise worked out for the day alone."""
    coverage = prices.day_coverage(day)
    if coverage is None:
        return _day_weights_walked(prices, day, profile)
    weights: dict[tuple[str, Decimal, bool], int] = {}
    if profile:
        for slot, bucket, inside, length in coverage:
            amount = profile[slot]
            if amount:
                weights[bucket] = weights.get(bucket, 0) + amount * inside // length
    else:
        for slot, bucket, inside, _length in coverage:
            if slot < 48:  # without a profile every second of the day weighs the same
                weights[bucket] = weights.get(bucket, 0) + inside
    return [(bucket, weight) for bucket, weight in weights.items() if weight > 0] or None


def _slot_pieces(prices: TariffPrices, day: dt.date, used: list[int]):
    """The used half hours of a day and the next, walked beside the periods that price them: for each,
    (slot, (label, price, off-peak), microseconds of the slot at that price, the slot's length); None
    when part of it has no price."""
    slots = prices.profile_slots(day)
    periods = prices.periods(slots[used[0]][0], slots[used[-1]][1]) if used else []
    if any(period.p_per_kwh is None for period in periods):
        return None
    pieces, position = [], 0
    for slot in used:
        slot_start, slot_end = slots[slot]
        length = (slot_end - slot_start) // dt.timedelta(microseconds=1)
        if length <= 0:
            continue
        while periods[position].end <= slot_start:
            position += 1
        index = position
        while index < len(periods) and periods[index].start < slot_end:
            period = periods[index]
            inside = (min(slot_end, period.end) - max(slot_start, period.start)) // dt.timedelta(microseconds=1)
            pieces.append((slot, (period.label, period.p_per_kwh, period.off_peak), inside, length))
            index += 1
    return pieces


def _day_weights_walked(prices: TariffPrices, day: dt.date, profile: tuple[int, ...] | None):
    """_day_weights for a day of its own (the clocks change, half-hourly prices, no price)."""
    cache = prices.__dict__.setdefault("_weights", {})
    key = (day, profile)
    if key in cache:
        return cache[key]
    amounts = profile if profile else [1] * 48 + [0] * 48
    pieces = _slot_pieces(prices, day, [index for index, amount in enumerate(amounts) if amount])
    found = None
    if pieces is not None:
        weights: dict[tuple[str, Decimal, bool], int] = {}
        for slot, bucket, inside, length in pieces:
            # Without a profile every second of the day weighs the same; with one, each half hour's amount.
            weight = inside if not profile else amounts[slot] * inside // length
            weights[bucket] = weights.get(bucket, 0) + weight
        found = [(bucket, weight) for bucket, weight in weights.items() if weight > 0] or None
    if len(cache) > 256:  # (sessions come in date order)
        cache.clear()
    cache[key] = found
    return found

"""Sessions' costs worked out by their owner's tariffs (reads only; services.py writes them).

Which tariff prices a session is its most specific assignment (`AssignmentFinder`). A session with
a start and an end (or a duration) is priced by its times; one with a date only by the owner's timed
sessions under the same assignment over the 90 days to its date (how their kWh fell in the half hours
of the day and the night after), else by the whole day's hours. docs/tariffs.md says it in words."""

import datetime as dt
import heapq
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Q

from sessions_app.analytics import is_home
from sessions_app.models import ChargingSession, CostSource, kwh_units
from sessions_app.services import SessionCost
from settings_app.services import user_settings

from .models import Assignment, Tariff
from .pricing import (
    PROFILE_SLOTS,
    Estimate,
    TariffPrices,
    charging_window,
    estimate_from_profile,
    estimate_from_times,
    profile_of,
)

PROFILE_DAYS = 90  # a date-only session is estimated from the timed sessions of the 90 days to its date
LARGEST_SHOWN = 10
_FIELDS = (
    "id", "car_id", "date", "location_label", "charge_network", "charge_delivered_kwh", "duration_mins", "started_at",
    "ended_at", "total_cost_gbp", "cost_per_kwh", "estimated_cost_gbp", "cost_source", "cost_breakdown",
    "off_peak_kwh", "off_peak_cost_gbp",
)  # fmt: skip


class AssignmentFinder:
    """An owner's assignments, read once: the one that prices a session is the most specific that
    matches it and has begun by its date (car + location > location > car > owner; a location
    label > home or public), the latest of equals."""

    def __init__(self, user: User | int):
        self.assignments = list(Assignment.objects.filter(user=user).select_related("car").order_by("valid_from", "pk"))

    def for_session(self, *, car_id: int, day: dt.date, location_label: str, at_home: bool) -> Assignment | None:
        found, found_key = None, None
        for assignment in self.assignments:
            if assignment.valid_from > day:
                break  # (in date order)
            if not assignment.matches(car_id=car_id, location_label=location_label, at_home=at_home):
                continue
            key = (assignment.specificity, assignment.valid_from, assignment.pk)
            if found_key is None or key > found_key:
                found, found_key = assignment, key
        return found


@dataclass(frozen=True)
class WorkedOut:
    """One session's cost figures before and after working them out again."""

    session_id: int
    car_id: int
    day: dt.date
    kwh: Decimal
    recorded_gbp: Decimal | None
    before: SessionCost
    after: SessionCost

    @property
    def changed(self) -> bool:
        return _figures(self.before) != _figures(self.after)

    @property
    def used_before(self) -> Decimal | None:
        return self.recorded_gbp if self.recorded_gbp is not None else self.before.estimated_cost_gbp

    @property
    def used_after(self) -> Decimal | None:
        return self.recorded_gbp if self.recorded_gbp is not None else self.after.estimated_cost_gbp


def _figures(cost: SessionCost) -> tuple:
    return (cost.estimated_cost_gbp, cost.cost_source, cost.breakdown or None, cost.off_peak_kwh,
            cost.off_peak_cost_gbp)  # fmt: skip


@dataclass(frozen=True)
class Selection:
    """Which of an owner's sessions to work out: a car's, between two dates (both included)."""

    user: User
    car_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def sessions(self):
        sessions = ChargingSession.objects.filter(user=self.user).order_by()
        if self.car_id is not None:
            sessions = sessions.filter(car_id=self.car_id)
        if self.date_from is not None:
            sessions = sessions.filter(date__gte=self.date_from)
        if self.date_to is not None:
            sessions = sessions.filter(date__lte=self.date_to)
        return sessions

    def contains(self, car_id: int, day: dt.date) -> bool:
        return ((self.car_id is None or car_id == self.car_id) and (self.date_from is None or day >= self.date_from)
                and (self.date_to is None or day <= self.date_to))  # fmt: skip


_TIMED = Q(started_at__isnull=False) & (Q(ended_at__isnull=False) | Q(duration_mins__isnull=False))


def session_costs_worked_out(*, selection: Selection, progress: Callable[[int], None] | None = None
                             ) -> Iterator[WorkedOut]:  # fmt: skip
    """Each selected session's cost figures, before and as its owner's tariffs now make them: the
    timed sessions first, then those with a date only. Streams: memory does not grow with the
    number of sessions (only with the days that have timed sessions)."""
    user = selection.user
    settings = user_settings(user=user.pk)
    finder = AssignmentFinder(user)
    prices: dict[int, TariffPrices] = {}
    tariffs = {tariff.pk: tariff for tariff in Tariff.objects.filter(user=user)}

    def prices_of(assignment: Assignment) -> TariffPrices:
        if assignment.tariff_id not in prices:
            prices[assignment.tariff_id] = TariffPrices.of(tariffs[assignment.tariff_id])
        return prices[assignment.tariff_id]

    def assignment_of(row: dict) -> Assignment | None:
        at_home = is_home(row["location_label"], row["charge_network"], settings)
        return finder.for_session(car_id=row["car_id"], day=row["date"], location_label=row["location_label"],
                                  at_home=at_home)  # fmt: skip

    done = 0
    # Timed sessions: each priced by its times, and each (of every car, from 90 days before the selection)
    # adds its half hours to its assignment's profile of that day.
    profiles: dict[int, dict[dt.date, array]] = {}
    timed = ChargingSession.objects.filter(user=user).filter(_TIMED).order_by("date", "id")  # (days' caches)
    if selection.date_from is not None:
        timed = timed.filter(date__gte=selection.date_from - dt.timedelta(days=PROFILE_DAYS))
    if selection.date_to is not None:
        timed = timed.filter(date__lte=selection.date_to)
    for row in timed.values(*_FIELDS).iterator(chunk_size=2000):
        assignment = assignment_of(row)
        window = charging_window(started_at=row["started_at"], ended_at=row["ended_at"],
                                 duration_mins=row["duration_mins"])  # fmt: skip
        estimate = None
        if assignment is not None:
            tariff_prices = prices_of(assignment)
            day, amounts = profile_of(tariff_prices, kwh_units=kwh_units(row["charge_delivered_kwh"]), start=window[0],
                                      end=window[1])  # fmt: skip
            by_day = profiles.setdefault(assignment.pk, {})
            total = by_day.get(day)
            if total is None:
                total = by_day[day] = array("q", bytes(8 * PROFILE_SLOTS))
            for slot, amount in enumerate(amounts):
                if amount:
                    total[slot] += amount
            if selection.contains(row["car_id"], row["date"]):
                estimate = estimate_from_times(tariff_prices, kwh=row["charge_delivered_kwh"], start=window[0],
                                               end=window[1])  # fmt: skip
        if selection.contains(row["car_id"], row["date"]):
            done += 1
            yield _worked_out(row, estimate)
            if progress and done % 500 == 0:
                progress(done)

    windows = {assignment: _ProfileWindows(by_day) for assignment, by_day in profiles.items()}
    for row in selection.sessions().exclude(_TIMED).order_by("date", "id").values(*_FIELDS).iterator(chunk_size=2000):
        assignment = assignment_of(row)
        estimate = None
        if assignment is not None:
            profile = windows[assignment.pk].profile(row["date"]) if assignment.pk in windows else None
            estimate = estimate_from_profile(prices_of(assignment), kwh=row["charge_delivered_kwh"], day=row["date"],
                                             profile=profile)  # fmt: skip
        done += 1
        yield _worked_out(row, estimate)
        if progress and done % 500 == 0:
            progress(done)
    if progress:
        progress(done)


class _ProfileWindows:
    """An assignment's timed sessions' half hours by day, summed over the 90 days to a date: a window
    slid forward as the date-only sessions come in date order (computed afresh if one comes earlier)."""

    def __init__(self, by_day: dict[dt.date, array]):
        self.by_day = by_day
        self.days = sorted(by_day)
        self.low = self.high = 0  # the window: days[low:high]
        self.summed = array("q", bytes(8 * PROFILE_SLOTS))
        self.last: dt.date | None = None

    def profile(self, day: dt.date) -> list[int] | None:
        if self.last is not None and day < self.last:
            self.low = self.high = 0
            self.summed = array("q", bytes(8 * PROFILE_SLOTS))
        self.last = day
        while self.high < len(self.days) and self.days[self.high] <= day:
            self._add(self.days[self.high], 1)
            self.high += 1
        first = day - dt.timedelta(days=PROFILE_DAYS)
        while self.low < self.high and self.days[self.low] < first:
            self._add(self.days[self.low], -1)
            self.low += 1
        return list(self.summed) if any(self.summed) else None

    def _add(self, day: dt.date, sign: int) -> None:
        amounts, summed = self.by_day[day], self.summed
        for slot in range(PROFILE_SLOTS):
            if amounts[slot]:
                summed[slot] += sign * amounts[slot]


def _worked_out(row: dict, estimate: Estimate | None) -> WorkedOut:
    recorded = ChargingSession.cost_of(row["total_cost_gbp"], row["cost_per_kwh"], row["charge_delivered_kwh"])
    if recorded is not None:
        source = CostSource.RECORDED
    else:
        source = CostSource.NONE if estimate is None else CostSource(estimate.method)
    before = SessionCost(
        session_id=row["id"], car_id=row["car_id"], estimated_cost_gbp=row["estimated_cost_gbp"],
        cost_source=row["cost_source"], breakdown=row["cost_breakdown"], off_peak_kwh=row["off_peak_kwh"],
        off_peak_cost_gbp=row["off_peak_cost_gbp"],
    )  # fmt: skip
    after = SessionCost(
        session_id=row["id"], car_id=row["car_id"], estimated_cost_gbp=estimate.cost_gbp if estimate else None,
        cost_source=source, breakdown=estimate.breakdown() if estimate else None,
        off_peak_kwh=estimate.off_peak_kwh if estimate else None,
        off_peak_cost_gbp=estimate.off_peak_cost_gbp if estimate else None,
    )  # fmt: skip
    return WorkedOut(row["id"], row["car_id"], row["date"], row["charge_delivered_kwh"], recorded, before, after)


@dataclass
class RecomputeReport:
    """What a recompute changes (a preview) or changed (applied): counts, the totals of the costs
    the figures use before and after, the largest differences, and the recorded costs left alone."""

    sessions: int = 0
    changed: int = 0
    by_source: dict[str, int] = field(default_factory=lambda: {source: 0 for source in CostSource.values})
    recorded_gbp: Decimal = Decimal(0)
    total_before_gbp: Decimal = Decimal(0)
    total_after_gbp: Decimal = Decimal(0)
    estimated_before_gbp: Decimal = Decimal(0)
    estimated_after_gbp: Decimal = Decimal(0)
    largest: list[dict] = field(default_factory=list)
    applied: bool = False
    recompute_id: int | None = None
    _heap: list = field(default_factory=list, repr=False)

    def count(self, worked: WorkedOut) -> None:
        self.sessions += 1
        self.changed += worked.changed
        self.by_source[worked.after.cost_source] += 1
        if worked.recorded_gbp is not None:
            self.recorded_gbp += worked.recorded_gbp
        self.total_before_gbp += worked.used_before or 0
        self.total_after_gbp += worked.used_after or 0
        if worked.recorded_gbp is None:
            self.estimated_before_gbp += worked.before.estimated_cost_gbp or 0
            self.estimated_after_gbp += worked.after.estimated_cost_gbp or 0
            difference = (worked.after.estimated_cost_gbp or 0) - (worked.before.estimated_cost_gbp or 0)
            if difference:
                entry = (abs(difference), -worked.session_id, worked)
                if len(self._heap) < LARGEST_SHOWN:
                    heapq.heappush(self._heap, entry)
                elif entry[:2] > self._heap[0][:2]:
                    heapq.heapreplace(self._heap, entry)

    def finish(self) -> "RecomputeReport":
        self.largest = [
            {"session_id": worked.session_id, "car_id": worked.car_id, "date": worked.day.isoformat(),
             "kwh": str(worked.kwh), "before": _text(worked.before.estimated_cost_gbp),
             "after": _text(worked.after.estimated_cost_gbp), "source": worked.after.cost_source,
             "difference": str((worked.after.estimated_cost_gbp or 0) - (worked.before.estimated_cost_gbp or 0))}
            for _size, _id, worked in sorted(self._heap, key=lambda entry: entry[:2], reverse=True)
        ]  # fmt: skip
        return self

    @property
    def recorded(self) -> int:
        return self.by_source[CostSource.RECORDED]

    def to_dict(self) -> dict:
        return {
            "sessions": self.sessions, "changed": self.changed, "by_source": self.by_source,
            "recorded": self.recorded, "recorded_gbp": f"{self.recorded_gbp:.2f}",
            "total_before_gbp": f"{self.total_before_gbp:.2f}", "total_after_gbp": f"{self.total_after_gbp:.2f}",
            "estimated_before_gbp": f"{self.estimated_before_gbp:.2f}",
            "estimated_after_gbp": f"{self.estimated_after_gbp:.2f}",
            "largest": self.largest, "applied": self.applied, "recompute_id": self.recompute_id,
        }  # fmt: skip


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def costs_preview(*, selection: Selection, progress: Callable[[int], None] | None = None) -> RecomputeReport:
    """What a recompute would change, writing nothing."""
    report = RecomputeReport()
    for worked in session_costs_worked_out(selection=selection, progress=progress):
        report.count(worked)
    return report.finish()

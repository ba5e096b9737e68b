"""Writes of the tariffs app: sessions' worked-out costs applied (a recorded change, undone by its
record) and undone; tariff files imported (tariffs/file_format.py reads them); half-hourly prices
fetched (tariffs/octopus.py)."""

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError
from sessions_app.services import SessionCost, charging_session_costs_write

from .costs import RecomputeReport, Selection, costs_preview, session_costs_worked_out
from .file_format import TariffFileError, tariffs_file_read
from .models import Assignment, Band, CostChange, CostRecompute, HalfHourPrice, Tariff, TariffVersion

logger = logging.getLogger("plugtrack.tariffs")
CHANGES_KEPT_AT_ONCE = 2_000


def costs_recompute(
    *, selection: Selection, apply: bool = False, progress: Callable[[int], None] | None = None
) -> RecomputeReport:
    """Work the selected sessions' costs out again by their owner's tariffs. A preview (`apply`
    False) writes nothing. Applied, in one transaction under the owner's lock, it writes the
    estimates that changed (never a recorded cost) and keeps each one's previous figures in a
    CostRecompute, which `costs_recompute_undo` writes back."""
    if not apply:
        return costs_preview(selection=selection, progress=progress)
    user = selection.user
    report = RecomputeReport()
    with account_write_lock(user.pk):
        record = CostRecompute.objects.create(
            user=user, car_id=selection.car_id, date_from=selection.date_from, date_to=selection.date_to
        )
        changes: list[CostChange] = []

        def changed_costs() -> Iterator[SessionCost]:
            for worked in session_costs_worked_out(selection=selection, progress=progress):
                report.count(worked)
                if not worked.changed:
                    continue
                changes.append(CostChange(recompute=record, session_id=worked.session_id,
                                          previous=_previous(worked.before)))  # fmt: skip
                if len(changes) >= CHANGES_KEPT_AT_ONCE:
                    CostChange.objects.bulk_create(changes)
                    changes.clear()
                yield worked.after

        charging_session_costs_write(user_id=user.pk, costs=changed_costs())
        CostChange.objects.bulk_create(changes)
        report.finish()
        if not report.changed:
            record.delete()  # nothing to undo
        else:
            record.sessions_changed = report.changed
            record.total_before_gbp, record.total_after_gbp = report.total_before_gbp, report.total_after_gbp
            record.save(update_fields=["sessions_changed", "total_before_gbp", "total_after_gbp"])
            report.recompute_id = record.pk
    report.applied = True
    logger.info("costs_recomputed user=%s sessions=%d changed=%d", user.username, report.sessions, report.changed)
    return report


def _previous(cost: SessionCost) -> dict:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "cost": text(cost.estimated_cost_gbp), "source": cost.cost_source, "breakdown": cost.breakdown,
        "off_peak_kwh": text(cost.off_peak_kwh), "off_peak_cost": text(cost.off_peak_cost_gbp),
    }  # fmt: skip


def costs_recompute_undo(*, user: User, recompute: CostRecompute) -> int:
    """Write back the figures the recompute changed, as they were before it. Only an owner's latest
    recompute not yet undone may be undone (an earlier one's figures were changed again since).
    Returns how many sessions were written back (those deleted since are not)."""

    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    with account_write_lock(user.pk):
        latest = CostRecompute.objects.filter(user=user, undone_at__isnull=True).order_by("-created_at", "-pk").first()
        if recompute.user_id != user.pk or latest is None or latest.pk != recompute.pk:
            raise PlugTrackError(
                "Only your latest recompute that is not undone yet can be undone: undo the later ones first."
            )
        changes = CostChange.objects.filter(recompute=recompute).select_related(None)
        costs = (
            SessionCost(
                session_id=change.session_id, car_id=change.session.car_id,
                estimated_cost_gbp=number(change.previous["cost"]), cost_source=change.previous["source"],
                breakdown=change.previous["breakdown"], off_peak_kwh=number(change.previous["off_peak_kwh"]),
                off_peak_cost_gbp=number(change.previous["off_peak_cost"]),
            )
            for change in changes.select_related("session").only("session_id", "previous", "session__car_id")
            .iterator(chunk_size=CHANGES_KEPT_AT_ONCE)
        )  # fmt: skip
        written = charging_session_costs_write(user_id=user.pk, costs=costs)
        recompute.undone_at = timezone.now()
        recompute.save(update_fields=["undone_at"])
    logger.info("costs_recompute_undone user=%s recompute=%d sessions=%d", user.username, recompute.pk, written)
    return written


@dataclass(frozen=True)
class TariffsImported:
    tariffs_added: int
    tariffs_replaced: int
    prices: int  # half-hourly prices stored (new or changed)
    assignments: int


def tariffs_import(*, user: User, data: bytes, source: str) -> TariffsImported:
    """Import a tariff file (file_format.py checks it all first): each of its tariffs replaces the
    owner's tariff of the same name (settings, versions and bands; its half-hourly prices are
    added to those stored, each half hour once), others are kept; its assignments replace the
    owner's. One transaction under the owner's lock: a file refused, or a failure, changes nothing."""
    read = tariffs_file_read(data, source)
    cars = list(Car.objects.filter(user=user))
    problems = []
    car_of = {}
    for index, assignment in enumerate(read.assignments):
        if assignment.car is None:
            continue
        found = [car for car in cars if car.pk == assignment.car or
                 isinstance(assignment.car, str) and str(car).casefold() == assignment.car.casefold()]  # fmt: skip
        if len(found) != 1:
            known = ", ".join(f"“{car}”" for car in cars) or "none yet"
            said = "is not one of" if not found else "names more than one of"
            problems.append(f"assignments[{index}].car: “{assignment.car}” {said} your cars ({known}).")
        else:
            car_of[index] = found[0]
    with account_write_lock(user.pk):
        existing = {tariff.name: tariff for tariff in Tariff.objects.filter(user=user)}
        named = {tariff.name for tariff in read.tariffs} | set(existing)
        problems += [
            f"assignments[{index}].tariff: “{assignment.tariff}” is neither in the file nor one of your tariffs."
            for index, assignment in enumerate(read.assignments)
            if assignment.tariff not in named
        ]
        if problems:
            raise TariffFileError(source, problems)
        added = replaced = prices = 0
        for data_of in read.tariffs:
            tariff = existing.get(data_of.name)
            if tariff is None:
                tariff = Tariff(user=user, name=data_of.name)
                added += 1
            else:
                replaced += 1
                tariff.versions.all().delete()
            tariff.time_zone = data_of.time_zone
            tariff.octopus_product, tariff.octopus_region = data_of.octopus_product, data_of.octopus_region
            tariff.fetch_daily = data_of.fetch_daily
            tariff.save()
            existing[tariff.name] = tariff
            for version_of in data_of.versions:
                version = TariffVersion.objects.create(
                    tariff=tariff, valid_from=version_of.valid_from, default_p_per_kwh=version_of.default_p_per_kwh,
                    standing_p_per_day=version_of.standing_p_per_day,
                )  # fmt: skip
                Band.objects.bulk_create(
                    Band(version=version, name=band.name, days=band.days, months=band.months, start=band.start,
                         end=band.end, p_per_kwh=band.p_per_kwh)
                    for band in version_of.bands
                )  # fmt: skip
            prices += half_hour_prices_store(tariff=tariff, prices=data_of.prices)
        Assignment.objects.filter(user=user).delete()
        Assignment.objects.bulk_create(
            Assignment(user=user, tariff=existing[assignment.tariff], valid_from=assignment.valid_from,
                       car=car_of.get(index), where=assignment.where, location_label=assignment.location)
            for index, assignment in enumerate(read.assignments)
        )  # fmt: skip
    logger.info("tariffs_imported user=%s added=%d replaced=%d prices=%d assignments=%d", user.username, added,
                replaced, prices, len(read.assignments))  # fmt: skip
    return TariffsImported(added, replaced, prices, len(read.assignments))


def half_hour_prices_store(*, tariff: Tariff, prices: Iterable[tuple[dt.datetime, dt.datetime, Decimal]]) -> int:
    """Store half-hourly prices, each half hour once: a price already stored for the same start is
    updated if it changed (Octopus may correct one), else left. Returns how many were new or changed.
    In the caller's transaction."""
    prices = list(prices)
    if not prices:
        return 0
    stored = dict(
        HalfHourPrice.objects.filter(tariff=tariff, start__gte=min(start for start, _end, _p in prices),
                                     start__lte=max(start for start, _end, _p in prices))
        .values_list("start", "p_per_kwh")
    )  # fmt: skip
    new, changed = [], []
    for start, end, price in prices:
        if start not in stored:
            new.append(HalfHourPrice(tariff=tariff, start=start, end=end, p_per_kwh=price))
            stored[start] = price
        elif stored[start] != price:
            changed.append(HalfHourPrice(tariff=tariff, start=start, end=end, p_per_kwh=price))
            stored[start] = price
    HalfHourPrice.objects.bulk_create(new, batch_size=2000)
    for price in changed:
        HalfHourPrice.objects.filter(tariff=tariff, start=price.start).update(end=price.end, p_per_kwh=price.p_per_kwh)
    return len(new) + len(changed)

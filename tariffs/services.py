"""Writes of the tariffs app: sessions' worked-out costs applied (a recorded change, undone by its
record) and undone; tariff files imported (tariffs/file_format.py reads them); half-hourly prices
fetched (tariffs/octopus.py)."""

import logging
from collections.abc import Callable, Iterator
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError
from sessions_app.services import SessionCost, charging_session_costs_write

from .costs import RecomputeReport, Selection, costs_preview, session_costs_worked_out
from .models import CostChange, CostRecompute

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

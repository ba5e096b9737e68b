"""Import batches: every import (the command, the admin, a merge restore) is recorded with what it
inserted, so that exactly those sessions can be removed again.

A session edited after its import is kept by an undo unless the person asks for it to go too; the
undo runs under the owner's write lock in one transaction, recomputes the cars it touched and is
recorded on the batch. Importing the same file again after an undo inserts its rows again (they are
no longer duplicates).
"""

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError

from .models import CHRONOLOGICAL, ChargingSession, ImportBatch
from .services import sessions_sequence_recompute

logger = logging.getLogger("plugtrack.sessions")

LISTED_EDITED = 100  # edited sessions named in an undo's report; the rest are counted


class BatchNotFound(PlugTrackError):
    """No such import of this owner (or it was undone already)."""


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_batch_start(
    *, user: User, car: Car | None, source_name: str, source_path: Path | str | None = None,
    kind: str = ImportBatch.Kind.IMPORT, detected: dict | None = None,
) -> ImportBatch:  # fmt: skip
    """Record an import as it starts (in the caller's transaction: an import undone takes it along).
    `detected`: how an owner's file was read (its format, shape and mapping), kept with the record."""
    detected = detected or {}
    return ImportBatch.objects.create(
        user=user, car=car, kind=kind, source_name=source_name[:255], format=detected.get("format", "plugtrack"),
        mapping=detected,
        sha256=file_sha256(source_path) if source_path and Path(source_path).is_file() else "",
    )  # fmt: skip


def import_batch_finish(batch: ImportBatch, *, rows_read: int, inserted: int, duplicates: int, errors: int) -> None:
    batch.rows_read, batch.inserted, batch.skipped_duplicates, batch.errors = rows_read, inserted, duplicates, errors
    batch.save(update_fields=["rows_read", "inserted", "skipped_duplicates", "errors"])


def import_batches(*, user: User | None = None) -> QuerySet[ImportBatch]:
    """Imports, newest first: one owner's, or everyone's."""
    batches = ImportBatch.objects.select_related("user", "car")
    return batches if user is None else batches.filter(user=user)


@dataclass
class UndoReport:
    batch_id: int
    source: str
    dry_run: bool
    removed: int = 0
    kept_edited: int = 0
    edited: list[str] = field(default_factory=list)  # the first LISTED_EDITED edited sessions, named
    include_edited: bool = False

    def to_dict(self) -> dict:
        return {"ok": True, **asdict(self)}

    @property
    def text(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        kept = ""
        if self.kept_edited:
            kept = (
                f"; kept {self.kept_edited} session(s) edited since the import (ask for edited ones to go too to "
                "remove them): " + "; ".join(self.edited)
            )
        elif self.include_edited and self.edited:
            kept = ", edited ones included"
        return f"Undo of import {self.batch_id} ({self.source}): {verb} {self.removed} session(s){kept}."


def import_batch_undo(*, user: User, batch_id: int, dry_run: bool = False, include_edited: bool = False) -> UndoReport:
    """Remove the sessions import `batch_id` of `user` inserted, keeping those edited since unless
    `include_edited`; atomic, recorded on the batch. A dry run says what would go and changes nothing."""
    with account_write_lock(user.pk):
        batch = ImportBatch.objects.filter(pk=batch_id, user=user).first()
        if batch is None:
            raise BatchNotFound(f"{user} has no import {batch_id}. `manage.py import_batches` lists them.")
        if batch.undone_at:
            raise BatchNotFound(
                f"Import {batch_id} ({batch.source_name}) was undone already, on {batch.undone_at:%Y-%m-%d %H:%M}."
            )
        sessions = batch.sessions.filter(user=user).order_by(*CHRONOLOGICAL)  # (one moved to another owner stays)
        edited = sessions.filter(edited_at__isnull=False)
        report = UndoReport(batch_id=batch.pk, source=batch.source_name, dry_run=dry_run, include_edited=include_edited)
        report.edited = [str(session) for session in edited[:LISTED_EDITED]]
        going = sessions if include_edited else sessions.filter(edited_at__isnull=True)
        car_ids = set(going.values_list("car_id", flat=True).distinct())
        report.removed = going.count()
        report.kept_edited = 0 if include_edited else edited.count()
        if dry_run:
            return report
        ChargingSession.objects.filter(pk__in=going.values("pk")).delete()
        sessions_sequence_recompute(car_ids=car_ids, rows_written=report.removed)
        batch.undone_at, batch.removed, batch.kept_edited = timezone.now(), report.removed, report.kept_edited
        batch.save(update_fields=["undone_at", "removed", "kept_edited"])
    logger.info(
        "import_undone user=%s batch_id=%d removed=%d kept_edited=%d", user.username, batch.pk, report.removed,
        report.kept_edited,
    )  # fmt: skip
    return report

"""Import batches: every import (the command, the admin, a merge restore) is recorded with what it
inserted, so that exactly those sessions can be removed again.

A session edited after its import is kept by an undo unless the person asks for it to go too; the
undo runs under the owner's write lock in one transaction, recomputes the cars it touched and is
recorded on the batch. Importing the same file again after an undo inserts its rows again (they are
no longer duplicates).
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site import events
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.dates import moment_text
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.events import event_on_commit

from ..models import CHRONOLOGICAL, ChargingSession, ImportBatch
from ..services import sessions_sequence_recompute
from .importer import ImportReport

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


@dataclass(frozen=True)
class ImportSource:
    """What an import's record names: the file as the person knows it, the file itself (for its
    SHA-256, when there is one), and how it was read (an owner's file: format, shape, mapping)."""

    name: str
    path: Path | str | None = None
    detected: dict = field(default_factory=dict)


@contextmanager
def import_recorded(
    *, user: User, car: Car | None, source: ImportSource, report: ImportReport, recorded: bool = True,
    kind: str = ImportBatch.Kind.IMPORT, adding_to: ImportBatch | None = None, announced: bool = True,
) -> Iterator[ImportBatch | None]:  # fmt: skip
    """The record of an import (the command's, the admin's, a merge restore's), so that exactly what it
    inserted can be undone: made as the import starts, in the caller's transaction (an import undone
    takes its record along), and given `report`'s counts as the block ends without an error; the
    report then names it (`batch_id`). None when not `recorded` (a dry run, a replace restore).
    `adding_to`: a record of this owner to add the counts to instead of a new one (the API's sessions,
    one record for those a token posts in a day); the caller holds the owner's lock.

    An import (not a restore) tells its events once its transaction commits: `import.finished`, and
    `session.created` once for all the sessions it inserted (plugtrack_site.events); not when
    `announced` is False (the API tells each session it stores as the admin does)."""
    if adding_to is not None and (adding_to.user_id != user.pk or adding_to.undone_at):
        raise ValueError("an import adds to a record of its own owner that is not undone")
    if not recorded:
        batch = None
    else:
        batch = adding_to if adding_to is not None else _batch_start(user=user, car=car, source=source, kind=kind)
    yield batch
    if batch:
        batch.rows_read += report.rows_read
        batch.inserted += report.inserted
        batch.skipped_duplicates += report.skipped_duplicates
        batch.errors += report.error_count
        batch.save(update_fields=["rows_read", "inserted", "skipped_duplicates", "errors"])
        report.batch_id = batch.pk
        if kind == ImportBatch.Kind.IMPORT and announced:
            _import_events(batch)


def _import_events(batch: ImportBatch) -> None:
    data = batch.event_data()
    if batch.inserted:
        event_on_commit(
            user=batch.user_id, kind=events.SESSION_CREATED,
            data={"count": batch.inserted, "car": data["car"], "import": data},
        )  # fmt: skip
    event_on_commit(user=batch.user_id, kind=events.IMPORT_FINISHED, data={"import": data})


def _batch_start(*, user: User, car: Car | None, source: ImportSource, kind: str) -> ImportBatch:
    path = source.path
    return ImportBatch.objects.create(
        user=user, car=car, kind=kind, source_name=source.name[:255],
        format=source.detected.get("format", "plugtrack"), mapping=source.detected,
        sha256=file_sha256(path) if path and Path(path).is_file() else "",
    )  # fmt: skip


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
                f"Import {batch_id} ({batch.source_name}) was undone already, on {moment_text(batch.undone_at)}."
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

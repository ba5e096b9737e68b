"""Copies of backups off the machine: to S3-compatible storage (AWS S3, MinIO, Backblaze B2, Wasabi...)
through django-storages, when STORAGES["offsite"] is configured (settings: PLUGTRACK_OFFSITE_S3_*).

Each of an owner's backups (scheduled, or made by hand; not the automatic one before a replace
restore, which stays in PlugTrack's own folder) is copied as `<prefix>/<owner id>/<file name>`, byte
for byte (an encrypted backup stays encrypted there). A copy that fails is recorded on the backup and
tried again at the next run; the local file is never touched by it. Retention applies there too:
the copy of a backup retention deletes is deleted, by the name PlugTrack recorded for it (never by
listing the bucket: another installation's copies there, or older ones after a reinstall, are never
touched); a delete that fails is logged and its copy stays (room taken, nothing lost).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils import timezone

from .models import Backup

logger = logging.getLogger("plugtrack.backups")

OFFSITE = "offsite"
FILE_GONE = "Its file is no longer on disk: nothing to copy."  # final: such a backup is not tried again
_FAILURES = (BotoCoreError, ClientError, OSError, ValueError)  # ValueError: e.g. an endpoint URL without its scheme


def offsite_storage() -> Storage | None:
    """The off-site storage, or None when none is configured."""
    return storages[OFFSITE] if OFFSITE in storages.backends else None


@dataclass
class OffsiteSync:
    copied: int = 0
    errors: list[str] = field(default_factory=list)


def offsite_sync(user: User) -> OffsiteSync:
    """Copy the owner's backups not copied yet (those that failed before too). Every failure is
    recorded and said, none is raised: the next run tries again."""
    result = OffsiteSync()
    storage = offsite_storage()
    if storage is None:
        return result
    for backup in _pending(Backup.objects.filter(user=user)).order_by("created_at"):
        if not Path(backup.path).is_file():  # moved or deleted since (a manual backup written elsewhere)
            Backup.objects.filter(pk=backup.pk).update(offsite_error=FILE_GONE)
            continue
        name = f"{user.pk}/{Path(backup.path).name}"
        try:
            with open(backup.path, "rb") as handle:
                stored = storage.save(name, File(handle, name=name))
        except _FAILURES as error:  # the network, the service, the file: recorded, tried again next run
            message = (
                f"{Path(backup.path).name} was not copied off-site ({_reason(error)}); it is tried again next run."
            )
            Backup.objects.filter(pk=backup.pk).update(offsite_error=message)
            logger.error("backup_offsite_failed user=%s backup_id=%s error=%s", user.username, backup.pk, error)
            result.errors.append(message)
            continue
        Backup.objects.filter(pk=backup.pk).update(offsite_name=stored, offsite_at=timezone.now(), offsite_error="")
        result.copied += 1
    return result


def offsite_sync_pending(*, skip: set[int] = frozenset()) -> dict[str, OffsiteSync]:
    """Copy every owner's backups not copied yet (their own, made by hand, or whose copy failed
    before); `skip`: owners just synced. Each run of due backups does this, so a failure is tried
    again within the hour."""
    if offsite_storage() is None:
        return {}
    owners = User.objects.filter(backups__in=_pending(Backup.objects.all())).exclude(pk__in=skip).distinct()
    return {owner.username: offsite_sync(owner) for owner in owners.order_by("pk")}


def offsite_failure(user: User) -> str:
    """The owner's latest copy that failed and is still to be made ("" when none): for the admin's pages."""
    failed = _pending(Backup.objects.filter(user=user)).exclude(offsite_error="").order_by("-created_at").first()
    return failed.offsite_error if failed and offsite_storage() is not None else ""


def _pending(backups):
    """Backups still to copy: not copied, not the automatic one before a replace, file not known gone."""
    return backups.filter(offsite_at__isnull=True).exclude(kind=Backup.Kind.AUTOMATIC).exclude(offsite_error=FILE_GONE)


def offsite_copies_delete(names: list[str]) -> None:
    """Delete these copies (of backups retention no longer keeps). Only names PlugTrack recorded for
    copies it made: another installation's copies in the same bucket are never touched. A delete
    that fails is logged and leaves the copy (room taken, nothing lost)."""
    storage = offsite_storage() if names else None
    for name in names if storage else []:
        try:
            storage.delete(name)
        except _FAILURES as error:
            logger.error("backup_offsite_delete_failed name=%s error=%s", name, error)


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]

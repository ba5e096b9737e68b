"""Copies of backups off the machine: to S3-compatible storage (AWS S3, MinIO, Backblaze B2, Wasabi...)
through django-storages, when STORAGES["offsite"] is configured (settings: PLUGTRACK_OFFSITE_S3_*).

Each of an owner's backups is copied as `<prefix>/<owner id>/<file name>`, byte for byte (an
encrypted backup stays encrypted there). A copy that fails is recorded on the backup and tried again
at the next run; the local file is never touched by it. Retention applies there too: a copy whose
backup PlugTrack no longer keeps is deleted, also one left behind by a delete that failed before.
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
_FAILURES = (BotoCoreError, ClientError, OSError)


def offsite_storage() -> Storage | None:
    """The off-site storage, or None when none is configured."""
    return storages[OFFSITE] if OFFSITE in storages.backends else None


@dataclass
class OffsiteSync:
    copied: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)


def offsite_sync(user: User) -> OffsiteSync:
    """Copy the owner's backups not copied yet (those that failed before too), then delete copies
    whose backup is gone. Every failure is recorded and said, none is raised: the next run tries again."""
    result = OffsiteSync()
    storage = offsite_storage()
    if storage is None:
        return result
    for backup in Backup.objects.filter(user=user, offsite_at__isnull=True).order_by("created_at"):
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
    try:
        result.deleted = _unkept_copies_delete(storage, user)
    except _FAILURES as error:  # as above: tried again at the next run
        result.errors.append(f"Old off-site copies could not be deleted ({_reason(error)}); tried again next run.")
        logger.error("backup_offsite_prune_failed user=%s error=%s", user.username, error)
    return result


def _unkept_copies_delete(storage: Storage, user: User) -> int:
    kept = set(Backup.objects.filter(user=user).exclude(offsite_name="").values_list("offsite_name", flat=True))
    _, names = storage.listdir(f"{user.pk}/")
    deleted = 0
    for name in names:
        if f"{user.pk}/{name}" not in kept:
            storage.delete(f"{user.pk}/{name}")
            deleted += 1
    return deleted


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]

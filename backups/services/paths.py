"""Where an owner's backups live, their names, and sweeping what a backup killed mid-write left."""

import datetime as dt
import logging
import time
from pathlib import Path

from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.files import STALE_AFTER_SECONDS, stale_temporaries_sweep

from ..models import Backup

logger = logging.getLogger("plugtrack.backups")


def backups_dir(user: User) -> Path:
    """Where PlugTrack keeps a user's backups (manual ones from the admin, automatic ones)."""
    return Path(django_settings.PLUGTRACK_DATA_DIR) / "backups" / str(user.pk)


def backups_delete(backups: QuerySet[Backup]) -> None:
    """Forget these backups, and delete the ZIPs of those PlugTrack keeps in its data folder.

    A ZIP written elsewhere (`backup_create --to`) belongs to whoever chose that place, so it is
    left where it is. Files go only once the records are gone for good (after the commit).
    """
    doomed = list(backups.select_related("user"))
    for user in {backup.user for backup in doomed}:
        backups_folder_sweep(user)
    with account_write_lock(*{backup.user_id for backup in doomed}):
        Backup.objects.filter(pk__in=[backup.pk for backup in doomed]).delete()
        for backup in doomed:
            path = Path(backup.path).resolve()
            logger.info("backup_deleted user_id=%s path=%s", backup.user_id, path)
            if path.is_relative_to(backups_dir(backup.user).resolve()):
                transaction.on_commit(lambda path=path: _backup_file_remove(path))


def backups_folder_sweep(user: User) -> None:
    """Remove what crashes left in the user's backups folder, once an hour old: PlugTrack's temporary
    files, and backup ZIPs that no Backup record names (written, then their transaction did not
    commit: a process killed in between, or a job whose outcome could not be recorded). Such a ZIP is
    a backup of data that is still there, as it was."""
    folder = backups_dir(user)
    stale_temporaries_sweep(folder)
    cutoff = time.time() - STALE_AFTER_SECONDS
    recorded = {Path(path).name for path in Backup.objects.filter(user=user).values_list("path", flat=True)}
    for zip_file in folder.glob("plugtrack_backup_*.zip"):
        try:
            if zip_file.name not in recorded and zip_file.stat().st_mtime < cutoff:
                zip_file.unlink()
                logger.warning("backup_file_unrecorded_removed path=%s", zip_file)
        except OSError:
            pass  # gone meanwhile, or not ours to remove: the operation itself goes on


def _backup_file_remove(path: Path) -> None:
    # The entry is gone already: a file that cannot go is worth a log line, not a failed page.
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        logger.warning("backup_file_not_removed path=%s error=%s", path, error)
    else:
        logger.info("backup_file_removed path=%s", path)


def backup_default_name(user: User, when: dt.datetime) -> str:
    return f"plugtrack_backup_{user.username}_{when:%Y%m%dT%H%M%S%fZ}.zip"


def backup_path(user: User, target: Path | str | None, created_at: dt.datetime) -> Path:
    """`target` itself, or the default name in it when it is a folder (None: the user's backups folder)."""
    path = Path(target) if target else backups_dir(user)
    if target is None or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        path = path / backup_default_name(user, created_at)
    return path

"""Backup and restore of an owner's whole account as a ZIP (format: `backups.schema`), by job: where
backups live and what is swept (paths.py), writing one (writing.py), restoring one (restoring.py).
What other modules use is named here."""

from .paths import backup_default_name, backups_delete, backups_dir, backups_folder_sweep
from .restoring import (
    MODES,
    RESTORE_PERMISSIONS,
    EntityCounts,
    RestoreFailed,
    RestoreOptions,
    RestoreReport,
    backup_restore,
)
from .writing import APP_VERSION, PASSPHRASE_MIN_CHARS, backup_create, passphrase_check

__all__ = [
    "APP_VERSION", "MODES", "PASSPHRASE_MIN_CHARS", "RESTORE_PERMISSIONS", "EntityCounts", "RestoreFailed",
    "RestoreOptions", "RestoreReport", "backup_create", "backup_default_name", "backup_restore", "backups_delete",
    "backups_dir", "backups_folder_sweep", "passphrase_check",
]  # fmt: skip

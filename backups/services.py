"""Backup and restore of a user's whole account as a ZIP (format: `backups.schema`)."""

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import time
import zipfile
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import pyzipper
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError, excerpt
from plugtrack_site.files import STALE_AFTER_SECONDS, file_written_whole, stale_temporaries_sweep
from plugtrack_site.numbers import decimal_text
from sessions_app.imports import (
    ChargingSessionResource,
    EngineOptions,
    ImportReport,
    ImportSource,
    RowIssue,
    charging_sessions_rows_import,
    import_recorded,
    width_problem,
)
from sessions_app.models import CHRONOLOGICAL, ChargingSession, ImportBatch
from sessions_app.services import car_save
from settings_app import crypto
from settings_app.models import Setting
from settings_app.registry import SETTINGS
from settings_app.services import settings_changed

from . import schema
from .archive import BackupContents, backup_open
from .models import Backup

logger = logging.getLogger("plugtrack.backups")

APP_VERSION = "0.1.0"
MODES = ("merge", "replace")

# What a user needs to be allowed to run each mode: a restore writes cars, sessions and settings;
# a replace deletes them first and writes an automatic backup. (Checked by the admin; a future API
# would check the same.)
_MERGE_PERMISSIONS = (
    "cars_app.add_car",
    "cars_app.change_car",
    "sessions_app.add_chargingsession",
    "settings_app.add_setting",
    "settings_app.change_setting",
)
RESTORE_PERMISSIONS = {
    "merge": _MERGE_PERMISSIONS,
    "replace": (
        *_MERGE_PERMISSIONS,
        "cars_app.delete_car",
        "sessions_app.delete_chargingsession",
        "settings_app.delete_setting",
        "backups.add_backup",  # the automatic backup a replace writes first
    ),
}


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


# --- create ---------------------------------------------------------------------------------


def backup_create(
    *, user: User, target: Path | str | None = None, kind: str = Backup.Kind.MANUAL, passphrase: str | None = None
) -> Backup:
    """Write a backup ZIP of everything `user` has and record it.

    `target` may be a file path, a folder (the default name is used) or None (the user's
    backups folder). With `passphrase` the same members are encrypted (WinZip AES-256, which
    7-Zip and pyzipper open with it, and nothing opens without); it is never stored. Runs under
    the account's write lock, so it reads the account at one moment, after every operation that
    committed before it. The file is written whole or not at all, and
    a Backup record exists exactly when its file does.
    """
    if passphrase is not None:
        passphrase_check(passphrase)
    backups_folder_sweep(user)  # what a backup killed mid-write left (the target's folder too, below)
    path, renamed, committed = None, False, False
    try:
        with account_write_lock(user.pk):
            created_at = timezone.now().astimezone(dt.UTC)  # when it reads, after any wait for the lock
            path = _backup_path(user, target, created_at)
            with file_written_whole(path, binary=True) as handle:
                counts = _archive_write(handle, user, created_at, passphrase)
                # Recorded before the file takes its name: should this fail, an older file at `path` stays.
                backup = Backup.objects.create(
                    user=user,
                    created_at=created_at,
                    kind=kind,
                    path=str(path.resolve()),  # absolute: the web server may run in another folder than the CLI
                    size_bytes=handle.tell(),
                    cars=counts["cars"],
                    sessions=counts["sessions"],
                    settings=counts["settings"],
                    encrypted=passphrase is not None,
                )
            renamed = True
        committed = True
    except (DatabaseError, OSError) as error:
        raise PlugTrackError(f"The backup could not be written, so none was kept ({error}).") from None
    finally:
        if renamed and not committed:  # the record was rolled back: its file must not stay without it
            path.unlink(missing_ok=True)
    logger.info(
        "backup_created user=%s kind=%s path=%s cars=%d sessions=%d settings=%d bytes=%d",
        user.username, kind, path, counts["cars"], counts["sessions"], counts["settings"], backup.size_bytes,
    )  # fmt: skip
    return backup


def _backup_path(user: User, target: Path | str | None, created_at: dt.datetime) -> Path:
    """`target` itself, or the default name in it when it is a folder (None: the user's backups folder)."""
    path = Path(target) if target else backups_dir(user)
    if target is None or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        path = path / backup_default_name(user, created_at)
    return path


PASSPHRASE_MIN_CHARS = 8


def passphrase_check(passphrase: str) -> None:
    """A passphrase a backup may be encrypted with: long enough to be worth it."""
    if len(passphrase) < PASSPHRASE_MIN_CHARS:
        raise PlugTrackError(
            f"The passphrase must have at least {PASSPHRASE_MIN_CHARS} characters. Keep it somewhere other than this "
            "machine: without it the backup cannot be read."
        )


def _archive_write(handle, user: User, created_at: dt.datetime, passphrase: str | None) -> dict[str, int]:
    """Write the backup's members into `handle` (encrypted with `passphrase`, if any); returns the counts."""
    if passphrase is None:
        archive = zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED)
    else:
        # pyzipper (a maintained fork of the standard library's zipfile) writes WinZip AES, as 7-Zip reads it.
        archive = pyzipper.AESZipFile(handle, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES)
        archive.setpassword(passphrase.encode("utf-8"))
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
    with archive:
        counts, digests = _write_members(archive, user)
        manifest = {
            "app": schema.APP_NAME,
            "version": APP_VERSION,
            "schema_version": schema.SCHEMA_VERSION,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "user_id": user.pk,
            "username": user.username,
            "counts": counts,
            "members": {name: {"sha256": digest} for name, digest in digests.items()},
        }
        archive.writestr(schema.MANIFEST, json.dumps(manifest, indent=2))
    return counts


class _HashingWriter(io.RawIOBase):
    def __init__(self, member):
        self.member, self.digest = member, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return self.member.write(data)


def _write_members(archive: zipfile.ZipFile, user: User) -> tuple[dict, dict]:
    digests = {}

    def write_text(name: str, text: str) -> None:
        data = text.encode("utf-8")
        digests[name] = hashlib.sha256(data).hexdigest()
        archive.writestr(name, data)

    write_text(schema.SCHEMA_VERSION_FILE, f"{schema.SCHEMA_VERSION}\n")

    cars = list(Car.objects.filter(user=user).order_by("pk"))
    cars_csv = io.StringIO()
    writer = csv.writer(cars_csv)
    writer.writerow(schema.CARS_COLUMNS)
    for car in cars:
        writer.writerow(
            [
                car.pk, car.name, car.make, car.model, decimal_text(car.battery_kwh),
                decimal_text(car.efficiency_mpkwh), int(car.recommended_full_charge_enabled),
                car.recommended_full_charge_frequency_value, car.recommended_full_charge_frequency_unit,
                car.notes, int(car.active),
            ]
        )  # fmt: skip
    write_text(schema.CARS, cars_csv.getvalue())

    stored_settings = Setting.objects.filter(user=user).order_by("key")
    settings_json = {
        s.key: {"encrypted": True, "ciphertext": s.value} if s.encrypted else s.value for s in stored_settings
    }
    write_text(schema.SETTINGS, json.dumps(settings_json, indent=2, ensure_ascii=False))

    # Streamed row by row: memory does not grow with the number of sessions.
    resource = ChargingSessionResource()
    session_count = 0
    with archive.open(schema.SESSIONS, "w", force_zip64=True) as member:
        hashing = _HashingWriter(member)
        text = io.TextIOWrapper(hashing, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(schema.SESSIONS_COLUMNS)
        sessions = ChargingSession.objects.filter(user=user).order_by("car_id", *CHRONOLOGICAL)
        for session in sessions.iterator(chunk_size=2000):
            writer.writerow([session.car_id, *resource.export_resource(session)])
            session_count += 1
        text.flush()
        text.detach()
    digests[schema.SESSIONS] = hashing.digest.hexdigest()
    counts = {"cars": len(cars), "sessions": session_count, "settings": len(settings_json)}
    return counts, digests


# --- restore --------------------------------------------------------------------------------


@dataclass
class EntityCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class RestoreReport:
    source: str
    mode: str
    dry_run: bool
    backup_created_at: str = ""
    backup_username: str = ""
    schema_version: int = schema.SCHEMA_VERSION
    cars: EntityCounts = field(default_factory=EntityCounts)
    settings: EntityCounts = field(default_factory=EntityCounts)
    sessions: ImportReport | None = None
    deleted: dict[str, int] = field(default_factory=dict)
    automatic_backup: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.sessions is None or self.sessions.ok

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.sessions:
            data["sessions"] = {
                "inserted": self.sessions.inserted,
                "skipped_duplicates": self.sessions.skipped_duplicates,
                "rows": self.sessions.rows_read,
                "error_count": self.sessions.error_count,
                "errors": [asdict(issue) for issue in self.sessions.errors],
            }
        return {"ok": self.ok, **data}


class _Rollback(Exception):
    """Raised inside the restore transaction to undo it."""


class RestoreFailed(PlugTrackError):
    """The restore started and was undone: the account is exactly as before."""


def backup_restore(
    *,
    user: User,
    source: Path | str,
    mode: str = "merge",
    dry_run: bool = False,
    progress=None,
    source_name: str | None = None,
    passphrase: str | None = None,
) -> RestoreReport:
    """Restore a backup ZIP into `user`'s account (`passphrase`: of an encrypted one).

    merge: cars and settings are upserted by their natural keys, sessions imported with the
    duplicate rule. replace: an automatic backup of the current data is written first, then the
    account is emptied and restored. Either way it is one transaction: on any failure the
    account is exactly as before. A dry run validates everything, counts, and writes nothing.
    `progress` is told the number of session rows restored so far; `source_name` names the file
    in the report and messages (default: its own name).
    """
    if mode not in MODES:
        raise PlugTrackError(f'Unknown restore mode "{mode}": use merge or replace.')
    backups_folder_sweep(user)  # what a replace killed mid-backup left
    source_name = source_name or Path(source).name
    contents = backup_open(source, source_name, passphrase)  # refuses a bad file before anything is written
    report = RestoreReport(
        source=source_name,
        mode=mode,
        dry_run=dry_run,
        backup_created_at=excerpt(str(contents.manifest.get("created_at", ""))),
        backup_username=excerpt(str(contents.manifest.get("username", ""))),
        schema_version=contents.schema_version,
        warnings=list(contents.warnings),
    )
    if contents.manifest.get("username") != user.username:
        report.warnings.append(f'This backup was made of "{report.backup_username}"; it is restored into "{user}".')
    replace = mode == "replace"
    if replace and dry_run:
        report.notes.append("A real replace would first save your current data as an automatic backup.")

    # One transaction under the account's lock: the automatic backup reads exactly what the wipe
    # deletes, and on any failure the account, and its list of backups, are as before.
    committed = False
    try:
        with nullcontext() if dry_run else account_write_lock(user.pk):  # a dry run writes nothing
            if replace and not dry_run:
                report.automatic_backup = backup_create(user=user, kind=Backup.Kind.AUTOMATIC).path
            if replace:
                report.deleted = _account_wipe(user, dry_run)
            cars = _restore_cars(user, contents, report, dry_run, replace)
            _restore_settings(user, contents, report, dry_run, replace)
            # A merge is an import of the backup's sessions: recorded, so that it can be undone.
            report.sessions = ImportReport(source=schema.SESSIONS, car="the backup's cars", dry_run=dry_run)
            recording = import_recorded(
                user=user, car=None, source=ImportSource(source_name, source), report=report.sessions,
                recorded=not (dry_run or replace), kind=ImportBatch.Kind.RESTORE,
            )  # fmt: skip
            with recording as batch:
                options = EngineOptions(
                    dry_run=dry_run, new_cars=replace, as_stored=True, price_ceiling=_price_ceiling(contents),
                    progress=progress, batch=batch,
                )  # fmt: skip
                _restore_sessions(user, contents, cars, report.sessions, options)
            if not report.ok:
                raise _Rollback
        committed = True
    except _Rollback:
        report.notes.append(
            f"Nothing was changed: {report.sessions.error_count} session row(s) in the backup are invalid."
        )
    except (DatabaseError, OSError) as error:
        raise RestoreFailed(f"The restore failed and was undone; your data is as before. ({error})") from None
    finally:
        if report.automatic_backup and not committed:  # its record was rolled back with the rest
            Path(report.automatic_backup).unlink(missing_ok=True)
            report.automatic_backup = None
    logger.info(
        "backup_restored user=%s mode=%s dry_run=%s ok=%s cars_inserted=%d cars_updated=%d sessions_inserted=%d "
        "sessions_duplicates=%d settings_inserted=%d settings_updated=%d",
        user.username, mode, dry_run, report.ok, report.cars.inserted, report.cars.updated,
        report.sessions.inserted if report.sessions else 0,
        report.sessions.skipped_duplicates if report.sessions else 0,
        report.settings.inserted, report.settings.updated,
    )  # fmt: skip
    return report


def _account_wipe(user: User, dry_run: bool) -> dict[str, int]:
    counts = {
        "cars": Car.objects.filter(user=user).count(),
        "sessions": ChargingSession.objects.filter(user=user).count(),
        "settings": Setting.objects.filter(user=user).count(),
    }
    if not dry_run:
        ChargingSession.objects.filter(user=user).delete()
        Car.objects.filter(user=user).delete()
        Setting.objects.filter(user=user).delete()
        ImportBatch.objects.filter(user=user).delete()  # what they inserted is gone: nothing left to undo
    return counts


CAR_FIELDS = [column for column in schema.CARS_COLUMNS if column != "id"]


def _restore_cars(user, contents: BackupContents, report, dry_run: bool, replace: bool) -> dict[str, Car]:
    """Upsert the backup's cars by (name, make, model). Returns backup car id -> car.

    In a dry run the cars that would be created are unsaved instances.
    """
    existing = {} if replace else {(c.name, c.make, c.model): c for c in Car.objects.filter(user=user)}
    by_backup_id = {}
    for row in contents.cars:
        values = {name: row[name] for name in CAR_FIELDS}
        car = existing.get((row["name"], row["make"], row["model"]))
        if car is None:
            car = Car(user=user, **values)
            report.cars.inserted += 1
        elif any(getattr(car, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(car, name, value)
            report.cars.updated += 1
        else:
            report.cars.unchanged += 1
        if not dry_run:
            car_save(car=car)  # (a changed battery changes its sessions' flags, as any save of a car)
        by_backup_id[row["id"]] = car
    return by_backup_id


def _price_ceiling(contents: BackupContents) -> Decimal | None:
    """The most a kWh costs as the backup's settings say (the restore brings them back before the
    sessions); None when it holds none, or none readable: the owner's own."""
    restored = contents.settings.get("max_price_per_kwh")
    if restored is None or restored.encrypted:
        return None
    try:
        return SETTINGS["max_price_per_kwh"].parse(restored.value)
    except ValidationError:
        return None


def _restore_settings(user, contents: BackupContents, report, dry_run: bool, replace: bool) -> None:
    existing = {} if replace else {s.key: s for s in Setting.objects.filter(user=user)}
    unreadable = []  # restored secrets that no configured key can read
    changed = []
    for key, restored in contents.settings.items():
        setting = existing.get(key)
        if setting is not None and (setting.value, setting.encrypted) == (restored.value, restored.encrypted):
            report.settings.unchanged += 1
            continue
        if restored.encrypted and not crypto.readable(restored.value):
            if setting is not None and _readable_value(setting):  # a merge never swaps it for an unreadable one
                report.settings.unchanged += 1
                report.warnings.append(
                    f"The backup's {key} cannot be read with the keys this installation has, so your current "
                    f"{key} was kept."
                )
                continue
            unreadable.append(key)
        if setting is None:
            setting = Setting(user=user, key=key)
            report.settings.inserted += 1
        else:
            report.settings.updated += 1
        # Ciphertext is copied as it is: a backup never decrypts a secret.
        setting.value, setting.encrypted = restored.value, restored.encrypted
        if not dry_run:
            setting.save()
            changed.append(key)
    if changed:  # what follows from a setting (the sessions above the price ceiling) follows it, as after a save
        settings_changed.send(sender=backup_restore, user=user, keys=changed)
    if unreadable:
        report.warnings.append(
            f"The secret setting(s) {', '.join(unreadable)} were encrypted with a key this installation does not "
            "have. They are kept encrypted; add that old key to PLUGTRACK_ENCRYPTION_KEYS (after the current one) "
            "to use them, or enter them again on your settings page."
        )


def _readable_value(setting: Setting) -> bool:
    return bool(setting.value) and (not setting.encrypted or crypto.readable(setting.value))


def _restore_sessions(user, contents: BackupContents, cars: dict[str, Car], sessions: ImportReport,
                      options: EngineOptions) -> None:  # fmt: skip
    """The backup's sessions, each into its car, through the import engine."""
    with contents.session_records() as (header, records):
        header = [column.strip() for column in header]
        car_column = header.index("car_id")
        keep = [index for index, column in enumerate(header) if column != "car_id"]

        def rows():  # each row's car (validated by backup_open), and its cells without car_id
            for line, record in records:
                if problem := width_problem(record, header):
                    yield RowIssue(line, "", "", problem)
                else:
                    yield line, cars[record[car_column].strip()], [record[index] for index in keep]

        columns = [header[index] for index in keep]
        charging_sessions_rows_import(user=user, rows=rows(), columns=columns, report=sessions, options=options)

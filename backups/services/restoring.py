"""Restoring a backup ZIP into an owner's account: merge or replace, in one transaction, with a dry run."""

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError, excerpt
from sessions_app.imports import (
    EngineOptions,
    ImportReport,
    ImportSource,
    RowIssue,
    charging_sessions_rows_import,
    import_recorded,
    width_problem,
)
from sessions_app.models import ChargingSession, ImportBatch
from sessions_app.services import car_save
from settings_app import crypto
from settings_app.models import Setting
from settings_app.registry import SETTINGS, Kind, SettingDefinition
from settings_app.services import settings_changed

from .. import schema
from ..archive import BackupContents, backup_open
from ..models import Backup
from .paths import backups_folder_sweep
from .writing import backup_create

logger = logging.getLogger("plugtrack.backups")


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


@dataclass
class EntityCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class SettingChange:
    """A setting a restore changes, in people's words: its label, and its value before and after;
    a secret's values never, only that it changes."""

    label: str
    before: str = ""
    after: str = ""
    secret: bool = False

    @property
    def text(self) -> str:
        if self.secret:
            return f"{self.label}: changed (a secret: its values are not shown)"
        return f"{self.label}: {self.before} → {self.after}"


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
    setting_changes: list[SettingChange] = field(default_factory=list)  # which, from what to what
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


@dataclass
class RestoreOptions:
    """How `backup_restore` runs. `dry_run`: validate everything and count, write nothing.
    `progress`: told the session rows restored so far. `source_name`: the file as the report and
    messages name it (default: its own name). `passphrase`: that of an encrypted backup."""

    dry_run: bool = False
    progress: Callable[[int], None] | None = None
    source_name: str | None = None
    passphrase: str | None = field(default=None, repr=False)


def backup_restore(
    *, user: User, source: Path | str, mode: str = "merge", options: RestoreOptions | None = None
) -> RestoreReport:
    """Restore a backup ZIP into `user`'s account.

    merge: cars and settings are upserted by their natural keys, sessions imported with the
    duplicate rule. replace: an automatic backup of the current data is written first, then the
    account is emptied and restored. Either way it is one transaction: on any failure the
    account is exactly as before. A dry run validates everything, counts, and writes nothing.
    """
    options = options or RestoreOptions()
    if mode not in MODES:
        raise PlugTrackError(f'Unknown restore mode "{mode}": use merge or replace.')
    backups_folder_sweep(user)  # what a replace killed mid-backup left
    name = options.source_name or Path(source).name
    contents = backup_open(source, name, options.passphrase)  # refuses a bad file before anything is written
    report = _report_started(user, contents, name, mode, options.dry_run)
    # One transaction under the account's lock: the automatic backup reads exactly what the wipe
    # deletes, and on any failure the account, and its list of backups, are as before.
    committed = False
    try:
        with nullcontext() if options.dry_run else account_write_lock(user.pk):  # a dry run writes nothing
            _restore_all(user, contents, report, source, options)
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
    _logged(user, report)
    return report


def _report_started(user: User, contents: BackupContents, name: str, mode: str, dry_run: bool) -> RestoreReport:
    report = RestoreReport(
        source=name, mode=mode, dry_run=dry_run,
        backup_created_at=excerpt(str(contents.manifest.get("created_at", ""))),
        backup_username=excerpt(str(contents.manifest.get("username", ""))),
        schema_version=contents.schema_version, warnings=list(contents.warnings),
    )  # fmt: skip
    if contents.manifest.get("username") != user.username:
        report.warnings.append(f'This backup was made of "{report.backup_username}"; it is restored into "{user}".')
    if mode == "replace" and dry_run:
        report.notes.append("A real replace would first save your current data as an automatic backup.")
    return report


def _restore_all(user: User, contents: BackupContents, report: RestoreReport, source, options: RestoreOptions) -> None:
    """Everything a restore writes, in the caller's transaction: the automatic backup and the wipe of a
    replace, then the cars, the settings and the sessions."""
    replace, dry_run = report.mode == "replace", options.dry_run
    if replace and not dry_run:
        report.automatic_backup = backup_create(user=user, kind=Backup.Kind.AUTOMATIC).path
    current = {setting.key: setting for setting in Setting.objects.filter(user=user)}  # (before a replace's wipe)
    if replace:
        report.deleted = _account_wipe(user, dry_run)
    cars = _restore_cars(user, contents, report, dry_run, replace)
    _restore_settings(user, contents, report, dry_run, current=current)
    # A merge is an import of the backup's sessions: recorded, so that it can be undone.
    report.sessions = ImportReport(source=schema.SESSIONS, car="the backup's cars", dry_run=dry_run)
    recording = import_recorded(
        user=user, car=None, source=ImportSource(report.source, source), report=report.sessions,
        recorded=not (dry_run or replace), kind=ImportBatch.Kind.RESTORE,
    )  # fmt: skip
    with recording as batch:
        engine = EngineOptions(
            dry_run=dry_run, new_cars=replace, as_stored=True, price_ceiling=_price_ceiling(contents),
            progress=options.progress, batch=batch,
        )  # fmt: skip
        _restore_sessions(user, contents, cars, report.sessions, engine)


def _logged(user: User, report: RestoreReport) -> None:
    sessions = report.sessions
    logger.info(
        "backup_restored user=%s mode=%s dry_run=%s ok=%s cars_inserted=%d cars_updated=%d sessions_inserted=%d "
        "sessions_duplicates=%d settings_inserted=%d settings_updated=%d",
        user.username, report.mode, report.dry_run, report.ok, report.cars.inserted, report.cars.updated,
        sessions.inserted if sessions else 0, sessions.skipped_duplicates if sessions else 0,
        report.settings.inserted, report.settings.updated,
    )  # fmt: skip


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


def _restore_settings(user, contents: BackupContents, report, dry_run: bool, current: dict[str, Setting]) -> None:
    """Upsert the backup's settings (a replace: into the account its wipe emptied), listing each that
    changes from `current`, the owner's settings as they were before the restore."""
    existing = {} if report.mode == "replace" else current
    unreadable = []  # restored secrets that no configured key can read
    changed = []
    order = list(SETTINGS)  # as the settings page lists them
    for key, restored in sorted(contents.settings.items(), key=lambda item: order.index(item[0])):
        setting = existing.get(key)
        if setting is not None and (setting.value, setting.encrypted) == (restored.value, restored.encrypted):
            report.settings.unchanged += 1
            continue
        if restored.encrypted and not crypto.readable(restored.value):
            if setting is not None and _readable_value(setting):  # a merge never swaps it for an unreadable one
                report.settings.unchanged += 1
                report.warnings.append(
                    f"The backup's “{SETTINGS[key].label}” cannot be read with the keys this installation has, so "
                    "your current one was kept."
                )
                continue
            unreadable.append(key)
        if setting is None:
            setting = Setting(user=user, key=key)
            report.settings.inserted += 1
        else:
            report.settings.updated += 1
        if change := _setting_change(key, current.get(key), restored.value, restored.encrypted):
            report.setting_changes.append(change)
        # Ciphertext is copied as it is: a backup never decrypts a secret.
        setting.value, setting.encrypted = restored.value, restored.encrypted
        if not dry_run:
            setting.save()
            changed.append(key)
    if report.mode == "replace":  # what the backup lacks goes with the wipe: its default is what is left
        for key in (key for key in order if key in current and key not in contents.settings):
            if change := _setting_change(key, current[key], SETTINGS[key].default, False):
                report.setting_changes.append(change)
    if changed:  # what follows from a setting (the sessions above the price ceiling) follows it, as after a save
        settings_changed.send(sender=backup_restore, user=user, keys=changed)
    if unreadable:
        labels = ", ".join(f"“{SETTINGS[key].label}”" for key in unreadable)
        report.warnings.append(
            f"The secret setting(s) {labels} were encrypted with a key this installation does not have. They are "
            "kept encrypted: whoever runs this PlugTrack can add that old key to its encryption keys "
            "(PLUGTRACK_ENCRYPTION_KEYS, after the current one) to use them, or you can enter them again."
        )


def _setting_change(key: str, before: Setting | None, value: str, encrypted: bool) -> SettingChange | None:
    """What a person reads of `key` going from `before` (None: never set, so its default) to `value`;
    None when nothing changes. A secret (or any value stored encrypted) is only said to change."""
    definition = SETTINGS.get(key)
    if definition is None:
        return None
    old_value, old_encrypted = (before.value, before.encrypted) if before else (definition.default, False)
    if (old_value, old_encrypted) == (value, encrypted):
        return None
    if definition.secret or encrypted or old_encrypted:
        return SettingChange(label=definition.label, secret=True)
    if definition.kind is Kind.WORD_LIST:
        return _words_change(definition, old_value, value)
    before, after = excerpt(definition.shown(old_value), 80), excerpt(definition.shown(value), 80)
    return SettingChange(label=definition.label, before=before, after=after)


def _words_change(definition: SettingDefinition, old_value: str, value: str, named: int = 5) -> SettingChange:
    """A word list in full when short, else its counts and the words added and left out."""
    before, after = definition.shown(old_value), definition.shown(value)
    if len(before) + len(after) <= 120:
        return SettingChange(label=definition.label, before=before, after=after)
    old_words, new_words = _words(definition, old_value), _words(definition, value)
    parts = []
    for verb, words in (("adds", [w for w in new_words if w not in old_words]),
                        ("leaves out", [w for w in old_words if w not in new_words])):  # fmt: skip
        if words:
            more = f" and {len(words) - named:,} more" if len(words) > named else ""
            parts.append(f"{verb} " + ", ".join(f"“{excerpt(word)}”" for word in words[:named]) + more)
    said = f" ({'; '.join(parts)})" if parts else " (the same words, in another order)"
    return SettingChange(
        label=definition.label, before=f"{len(old_words):,} words", after=f"{len(new_words):,} words{said}"
    )


def _words(definition: SettingDefinition, text: str) -> list[str]:
    try:
        return definition.parse(text)
    except ValidationError:
        return [text]


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

"""Sessions CSV import and export: the service behind the CLI, the admin and the API.

Import streams the file through the import engine (`importer.py`), so memory does not grow with
the file; only the first errors are kept in the report, and all of them go to
`<source stem>.err.csv`. Export streams the sessions out through the same resource.
"""

import csv
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.files import file_written_whole

from ..models import ChargingSession
from . import importer
from .asks import FORMAT_OTHER
from .batches import ImportSource, import_recorded
from .choices import ImportChoices
from .csv_format import (
    FIELDS,
    HEADER,
    CsvFileError,
    formula_escape,
    no_sessions_message,
)
from .formats import RowSource
from .formats.detection import format_detect
from .formats.mapped import MappedRows
from .formats.plugtrack import PlugtrackRows
from .formats.presets import PRESETS
from .formats.shape import file_readable_check
from .formats.teslafi import TeslafiRows
from .importer import CHUNK_ROWS, EngineOptions, ImportReport, Limits, Progress, RowIssue, charging_sessions_rows_import
from .mapping_profiles import mapping_for_header
from .preview import file_header
from .resources import ChargingSessionResource

logger = logging.getLogger("plugtrack.sessions")

ERROR_FILE_HEADER = ("row", "severity", "field", "value", "message")  # severity: error or warning


# --- import ---------------------------------------------------------------------------------


def charging_sessions_checked_import(
    *, user: User, car: Car, checked_rows: Path, source: ImportSource, check: dict, progress: Progress | None = None
) -> ImportReport:
    """Import what a dry run checked and kept (`charging_sessions_import(keep_checked_rows=...)`),
    without checking its rows again: only a row another import stored meanwhile is skipped. Recorded
    as an import (`source.path`: the checked file, for its SHA-256). `check`: the dry run's report,
    whose rows read, errors and duplicates the returned report (and the record) count too."""
    report = ImportReport(
        source=source.name, car=str(car), car_id=car.pk, dry_run=False, rows_read=check["rows_read"],
        skipped_duplicates=check["skipped_duplicates"], error_count=check["error_count"],
    )  # fmt: skip
    source = ImportSource(source.name, source.path, check.get("detected", {}))
    with _database_refusal(), checked_rows.open("rb") as handle, account_write_lock(user.pk):
        _car_still_there(user, car)
        with import_recorded(user=user, car=car, source=source, report=report) as batch:
            importer.charging_sessions_checked_import(
                user=user, car=car, checked_rows=handle, report=report, progress=progress, batch=batch
            )
    logger.info(
        "sessions_import user=%s car_id=%s source=%s checked=True inserted=%d duplicates=%d",
        user.username, car.pk, source.name, report.inserted, report.skipped_duplicates,
    )  # fmt: skip
    return report


@contextmanager
def _database_refusal() -> Iterator[None]:
    """A database error (a full disk, a lost connection) as a message: the import was undone."""
    try:
        yield
    except DatabaseError as error:
        raise CsvFileError(
            f"The database refused the import, so nothing was written ({error}). Try again; if it persists, "
            "tell whoever runs this PlugTrack."
        ) from None


def _car_still_there(user: User, car: Car) -> None:
    if not Car.objects.filter(pk=car.pk, user=user).exists():  # e.g. a replace restore ran first
        raise CsvFileError(
            f"{car} no longer exists: another operation removed it while this import waited. "
            "Nothing was written; choose a car and import again."
        )


# What a file may be: PlugTrack's own CSV (the default, unchanged), one of the presets for owners'
# own files (presets.py), or whichever its header says.
FORMATS = ("plugtrack", *PRESETS, "auto")


class _AbortImport(Exception):
    """Raised inside the transaction to undo every row written so far."""


@dataclass
class ImportOptions:
    """How `charging_sessions_import` reads and writes a file.

    `dry_run`: every check, duplicates included, and nothing written. `allow_partial`: write the
    valid rows even when others have errors (by default nothing is written then). `file_format`:
    "plugtrack" (PlugTrack's own 14 columns), an owner's file ("spreadsheet", "evcc", "teslafi";
    `choices` answer its questions and may bring a mapping) or "auto" (formats/detection.py).
    `source_name`: the file as the report names it (default: its own name). `error_file=False`:
    errors and warnings in the report only, no `.err.csv` (a caller that shows them itself).
    `keep_checked_rows` (a dry run): where to keep the rows found new, for
    `charging_sessions_checked_import` once confirmed. `progress`: told the rows read so far, after
    each chunk. `limits`: the engine's chunk sizes and the most rows read."""

    dry_run: bool = False
    allow_partial: bool = False
    file_format: str = "plugtrack"
    choices: ImportChoices = field(default_factory=ImportChoices)
    source_name: str | None = None
    error_file: bool = True
    keep_checked_rows: Path | None = None
    progress: Progress | None = None
    limits: Limits = field(default_factory=Limits)


def charging_sessions_import(
    *, user: User, car: Car, source: Path | str | IO[str], options: ImportOptions | None = None
) -> ImportReport:
    """Import a sessions CSV into `car` of `user`, as `options` say (default: PlugTrack's own CSV,
    written atomically: with any invalid row nothing is written). Raises CsvFileError for problems
    with the file as a whole, before any row is read. An owner's file whose header has a mapping
    saved by the owner is read with it."""
    options = options or ImportOptions()
    if car.user_id != user.pk:
        raise CsvFileError(f"Car {car.pk} is not one of {user}'s cars.")
    path = Path(source) if isinstance(source, str | Path) else None
    name = options.source_name or (path.name if path else getattr(source, "name", "the uploaded file"))
    row_source = _row_source_chosen(user=user, car=car, source=source, name=name, options=options)
    keep = options.keep_checked_rows
    with _database_refusal(), keep.open("wb") if keep else nullcontext() as checked_rows:
        return _import_file(user=user, car=car, source=source, name=name, checked_rows=checked_rows,
                            row_source=row_source, options=options)  # fmt: skip


def _row_source_chosen(*, user: User, car: Car, source, name: str, options: ImportOptions) -> RowSource:
    """The reader of the file as `options` say, once its format is known ("auto": detected)."""
    file_format, choices = options.file_format, options.choices
    path = Path(source) if isinstance(source, str | Path) else None
    if file_format not in FORMATS:
        raise CsvFileError(f'Unknown format "{file_format}": use {", ".join(FORMATS)}.')
    if file_format != "plugtrack" and path is None:
        raise CsvFileError(f"Reading {name} as an owner's own file needs the file itself, not a stream.")
    if path and file_format != "plugtrack":
        file_readable_check(path)
    shape = None  # an owner's file's encoding and delimiter, when `auto` has read them already
    if file_format == "auto":
        shape, header = file_header(path, name, choices)
        has_mapping = choices.mapping is not None or mapping_for_header(user, header) is not None
        file_format = format_detect(path=path, shape=shape, header=header, has_mapping=has_mapping)
    _unused_choices_refuse(file_format, choices, name)
    return _row_source(file_format, user=user, car=car, source=source, choices=choices, shape=shape)


def _row_source(file_format: str, *, user: User, car: Car, source, choices: ImportChoices, shape) -> RowSource:
    """The reader of a file of `file_format` (decided: not "auto")."""
    if file_format == "plugtrack":
        return PlugtrackRows(source)
    if file_format == "teslafi":
        return TeslafiRows(Path(source), choices, shape)
    return MappedRows(
        Path(source), file_format, choices, saved_mapping=lambda header: mapping_for_header(user, header), shape=shape,
        car=car,
    )  # fmt: skip


def _import_file(
    *, user: User, car: Car, source, name: str, checked_rows, row_source: RowSource, options: ImportOptions
) -> ImportReport:
    dry_run = options.dry_run
    report = ImportReport(source=name, car=str(car), car_id=car.pk, dry_run=dry_run)
    path = source if isinstance(source, str | Path) else None  # the file itself, for the batch's SHA-256
    errors_to = _ErrorFile(source, report) if options.error_file else nullcontext()
    with row_source.open(name) as (columns, records, detected), errors_to as error_sink:
        report.detected = detected
        try:
            # A dry run writes nothing, so it needs no lock (and does not hold others up).
            with nullcontext() if dry_run else account_write_lock(user.pk):
                _car_still_there(user, car)
                source = ImportSource(name, path, detected)
                recording = import_recorded(user=user, car=car, source=source, report=report, recorded=not dry_run)
                with recording as batch:
                    engine = EngineOptions(
                        dry_run=dry_run, error_sink=error_sink, progress=options.progress, checked_rows=checked_rows,
                        batch=batch, limits=options.limits,
                    )  # fmt: skip
                    rows = (_for_car(record, car) for record in records)
                    charging_sessions_rows_import(user=user, rows=rows, columns=columns, report=report, options=engine)
                    if not report.rows_read:
                        report.notes.append(no_sessions_message(name))  # not an error: e.g. an empty month
                    if report.error_count and (report.stopped_at or not options.allow_partial):
                        raise _AbortImport  # the record goes too: nothing was imported
        except _AbortImport:
            if not report.stopped_at:  # (a stop says why itself)
                # A dry run says the same as the real run would: nothing.
                verb = "would be" if dry_run else "was"
                report.notes.append(
                    f"Nothing {verb} written: {report.error_count} row(s) have errors. Fix them and import again "
                    f"(rows already imported are skipped as duplicates), or allow a partial import to write the "
                    f"{report.inserted} new valid row(s)."
                )
            report.inserted = 0
    logger.info(
        "sessions_import user=%s car_id=%s source=%s dry_run=%s rows=%d valid=%d inserted=%d duplicates=%d "
        "errors=%d warnings=%d",
        user.username, car.pk, name, dry_run, report.rows_read, report.ok_rows, report.inserted,
        report.skipped_duplicates, report.error_count, report.warning_count,
    )  # fmt: skip
    return report


def csv_rows_estimate(path: Path | str) -> int:
    """About how many rows a CSV file has (its line count less the header), read in blocks."""
    try:
        with open(path, "rb") as handle:
            return max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)
    except OSError:
        return 0


# What a format does not read, and the choices it therefore cannot use (never silently ignored).
_FIXED_BY_FORMAT = {
    "plugtrack": ("is PlugTrack's own CSV, read as it is (UTF-8, ISO dates, miles, pounds, its own columns)",
                  ("mapping", "date order", "encoding", "time zone", "currency", "blank-odometer rule")),
    "teslafi": ("is TeslaFi's polls, rebuilt into sessions (no prices; each session's odometer from its polls)",
                ("mapping", "currency", "blank-odometer rule")),
}  # fmt: skip


def _unused_choices_refuse(file_format: str, choices: ImportChoices, name: str) -> None:
    if file_format not in _FIXED_BY_FORMAT:
        return
    given = {
        "mapping": choices.mapping, "date order": choices.date_order, "encoding": choices.encoding,
        "time zone": choices.time_zone, "currency": choices.currency,
        "blank-odometer rule": choices.blank_odometer != "error",
    }  # fmt: skip
    what, unusable = _FIXED_BY_FORMAT[file_format]
    if unused := [choice for choice in unusable if given[choice]]:
        raise CsvFileError(
            f"{name} {what}: the {', '.join(unused)} you gave would not be used. Leave them out, or give the file's "
            "format if it is another (", FORMAT_OTHER, ").",
        )  # fmt: skip


def _for_car(record: tuple[int, list[str]] | RowIssue, car: Car):
    """A file's record as the engine takes it: with its car (or a row already refused, as it is)."""
    return record if isinstance(record, RowIssue) else (record[0], car, record[1])


class _ErrorFile:
    """Writes row errors and warnings (each marked as which) to `<source stem>.err.csv` as they are
    found, opening it on first use: every one, where the report keeps the first.

    Beside the source when that folder is writable, else under PLUGTRACK_DATA_DIR. A stale error
    file from an earlier run of the same source is removed when this run has neither.
    """

    def __init__(self, source, report: ImportReport):
        self.report = report
        self.source_path = Path(source) if isinstance(source, str | Path) else None
        stem = Path(self.source_path.name if self.source_path else report.source).stem
        self.name = f"{stem}.err.csv"
        self.handle = None
        self.writer = None
        self.unwritable = False

    def __enter__(self):
        return self

    def write(self, issue: RowIssue, severity: str) -> None:
        if self.writer is None and not self.unwritable:
            self._open()
        if self.writer:
            self.writer.writerow([issue.row, severity, issue.field, formula_escape(issue.value), issue.message])

    def _open(self) -> None:
        fallback = Path(settings.PLUGTRACK_DATA_DIR) / "import-errors" / self.name
        if self.source_path:
            beside = self.source_path.with_name(self.name)
            try:
                self.handle = beside.open("w", encoding="utf-8", newline="")
            except OSError:
                self.report.notes.append(f"{beside.parent} is not writable, so the error file went to {fallback}.")
        if self.handle is None:
            try:
                fallback.parent.mkdir(parents=True, exist_ok=True)
                self.handle = fallback.open("w", encoding="utf-8", newline="")
            except OSError as error:
                self.unwritable = True
                self.report.notes.append(f"No error file could be written ({error}); the errors are listed above.")
                return
        self.report.error_file = self.handle.name
        self.writer = csv.writer(self.handle)
        self.writer.writerow(ERROR_FILE_HEADER)

    def __exit__(self, *exc_info):
        failed = exc_info[0] is not None
        if self.handle:
            self.handle.close()
            if failed:  # the file as a whole was refused mid-way: a partial list would mislead
                Path(self.handle.name).unlink(missing_ok=True)
        elif self.source_path and not failed and not self.unwritable:
            stale = self.source_path.with_name(self.name)
            if stale.is_file():
                stale.unlink()
        return False


# --- export ---------------------------------------------------------------------------------


def charging_sessions_export(
    *,
    user: User,
    target: Path | str | IO[str],
    car: Car | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    with_times: bool = False,
) -> int:
    """Write the user's sessions (one car, or all; dates inclusive) as the sessions CSV, with the
    columns started_at and ended_at after the 14 when `with_times`.

    Sorted by date, odometer, id. A file path is written whole or not at all. Returns the count.
    """
    lines = charging_sessions_csv(user=user, car=car, date_from=date_from, date_to=date_to, with_times=with_times)
    with _open_for_writing(target) as handle:
        handle.writelines(lines)
    return lines.count


class _SessionLines:
    """The lines of a sessions CSV (the header first), made as they are read, so that a file or
    a download of any size streams; `count` is the sessions written so far."""

    def __init__(self, sessions, *, user: User, car: Car | None, columns: tuple[str, ...]):
        self.sessions, self.user, self.car, self.columns = sessions, user, car, columns
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        resource = ChargingSessionResource()
        writer = csv.writer(_LineOut())
        yield writer.writerow(self.columns)
        width = len(self.columns)  # (the resource's own order: the 14, then the times)
        for session in resource.filter_export(self.sessions).iterator(chunk_size=CHUNK_ROWS):
            yield writer.writerow(resource.export_resource(session)[:width])
            self.count += 1
        car_id = self.car.pk if self.car else "all"
        logger.info("sessions_export user=%s car_id=%s rows=%d", self.user.username, car_id, self.count)


class _LineOut:
    """What csv.writer writes to: hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def sessions_csv_name(*, user: User, car: Car) -> str:
    """What a download of a car's sessions is called: whose, which car, and the day it was made."""
    return f"plugtrack_sessions_{user.username}_{slugify(car.name)}_{timezone.localdate():%Y-%m-%d}.csv"


def charging_sessions_csv(
    *, user: User, car: Car | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None,
    with_times: bool = False, only: Q | None = None,
) -> _SessionLines:  # fmt: skip
    """The user's sessions (one car, or all; dates inclusive; `only`: those this filter keeps, e.g. the
    home ones) as the lines of the sessions CSV (the 14 columns, and the times after them when
    `with_times`), sorted by date, odometer, id. Checks its arguments at once; reads the sessions as
    iterated."""
    if date_from and date_to and date_from > date_to:
        raise CsvFileError(f"The date range is empty: {date_from} is after {date_to}.")
    if car is not None and car.user_id != user.pk:
        raise CsvFileError(f"Car {car.pk} is not one of {user}'s cars.")
    sessions = ChargingSession.objects.filter(user=user)
    if car is not None:
        sessions = sessions.filter(car=car)
    if date_from:
        sessions = sessions.filter(date__gte=date_from)
    if date_to:
        sessions = sessions.filter(date__lte=date_to)
    if only is not None:
        sessions = sessions.filter(only)
    return _SessionLines(sessions, user=user, car=car, columns=FIELDS if with_times else HEADER)


@contextmanager
def _open_for_writing(target) -> Iterator[IO[str]]:
    if not isinstance(target, str | Path):
        yield target
        return
    path = Path(target)
    if path.is_dir():
        raise CsvFileError(f"{path} is a folder; give a file name, e.g. {path / 'sessions.csv'}.")
    with file_written_whole(path) as handle:
        yield handle

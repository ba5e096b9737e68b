"""Sessions CSV import and export: the service behind the CLI, the admin and a future API.

Import streams the file through the import engine (`importer.py`), so memory does not grow with
the file; only the first errors are kept in the report, and all of them go to
`<source stem>.err.csv`. Export streams the sessions out through the same resource.
"""

import csv
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.files import file_written_whole

from . import importer
from .batches import import_batch_finish, import_batch_start
from .csv_format import (
    HEADER,
    CsvFileError,
    csv_records,
    formula_escape,
    header_read,
    no_sessions_message,
)
from .file_preview import file_header, format_detect
from .file_shape import first_undecodable_line
from .import_choices import ImportChoices
from .importer import CHUNK_ROWS, ImportReport, Progress, RowIssue, charging_sessions_rows_import
from .mapped_csv import mapped_rows, text_open
from .mapping_profiles import mapping_for_header
from .models import ChargingSession
from .presets import PRESETS
from .resources import ChargingSessionResource
from .teslafi import teslafi_rows

logger = logging.getLogger("plugtrack.sessions")

ERROR_FILE_HEADER = ("row", "severity", "field", "value", "message")  # severity: error or warning


# --- import ---------------------------------------------------------------------------------


def charging_sessions_checked_import(
    *, user: User, car: Car, checked_rows: Path, source_name: str, source_path: Path | str | None = None,
    check: dict | None = None, progress: Progress | None = None,
) -> ImportReport:  # fmt: skip
    """Import what a dry run checked and kept (`charging_sessions_import(keep_checked_rows=...)`),
    without checking its rows again: only a row another import stored meanwhile is skipped. Recorded
    as an import batch (`source_path`: the checked file, for its SHA-256; `check`: the dry run's
    report, whose rows read, errors and duplicates the batch counts too)."""
    check = check or {}
    report = ImportReport(source=source_name, car=f"{car} (id {car.pk})", dry_run=False)
    with _database_refusal(), checked_rows.open("rb") as handle, account_write_lock(user.pk):
        _car_still_there(user, car)
        batch = import_batch_start(
            user=user, car=car, source_name=source_name, source_path=source_path,
            detected=check.get("detected", {}),
        )  # fmt: skip
        importer.charging_sessions_checked_import(
            user=user, car=car, checked_rows=handle, report=report, progress=progress, batch=batch
        )
        import_batch_finish(
            batch, rows_read=check.get("rows_read", report.rows_read), inserted=report.inserted,
            duplicates=check.get("skipped_duplicates", 0) + report.skipped_duplicates,
            errors=check.get("error_count", 0),
        )  # fmt: skip
        report.batch_id = batch.pk
    logger.info(
        "sessions_import user=%s car_id=%s source=%s checked=True inserted=%d duplicates=%d",
        user.username, car.pk, source_name, report.inserted, report.skipped_duplicates,
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
            f"{car} (id {car.pk}) no longer exists: another operation removed it while this import waited. "
            "Nothing was written; choose a car and import again."
        )


# What a file may be: PlugTrack's own CSV (the default, unchanged), one of the presets for owners'
# own files (presets.py), or whichever its header says.
FORMATS = ("plugtrack", *PRESETS, "auto")


class _AbortImport(Exception):
    """Raised inside the transaction to undo every row written so far."""


def charging_sessions_import(
    *,
    user: User,
    car: Car,
    source: Path | str | IO[str],
    dry_run: bool = False,
    allow_partial: bool = False,
    progress: Progress | None = None,
    source_name: str | None = None,
    error_file: bool = True,
    keep_checked_rows: Path | None = None,
    file_format: str = "plugtrack",
    choices: ImportChoices | None = None,
) -> ImportReport:
    """Import a sessions CSV into `car` of `user`.

    Atomic by default: with any invalid row nothing is written (unless `allow_partial`). A dry
    run does every check, duplicates included, and writes nothing. Raises CsvFileError for
    problems with the file as a whole, before any row is read. `progress` is called with the
    number of rows read so far, after each chunk. `source_name` names the file in the report
    (default: its own name); `error_file=False` keeps the errors in the report only (no
    `.err.csv`), for a caller that shows them itself. `keep_checked_rows` (a dry run): the file
    where to keep the rows found new, for `charging_sessions_checked_import` once confirmed.
    `file_format`: "plugtrack" (PlugTrack's own 14 columns), a preset for an owner's own file
    ("spreadsheet", "evcc", "teslafi": presets.py; `choices` answer its questions and may bring a
    mapping) or "auto" (PlugTrack's own when the header is exactly PlugTrack's, else the preset the
    header says). An owner's file whose header has a mapping saved by the owner is read with it.
    """
    if car.user_id != user.pk:
        raise CsvFileError(f"Car {car.pk} is not one of {user}'s cars.")
    path = Path(source) if isinstance(source, str | Path) else None
    name = source_name or (path.name if path else getattr(source, "name", "the uploaded file"))
    if file_format not in FORMATS:
        raise CsvFileError(f'Unknown format "{file_format}": use {", ".join(FORMATS)}.')
    if file_format != "plugtrack" and path is None:
        raise CsvFileError(f"Reading {name} as an owner's own file needs the file itself, not a stream.")
    choices = choices or ImportChoices()
    if path and file_format != "plugtrack":
        _check_readable_file(path)
    shape = None  # an owner's file's encoding and delimiter, when `auto` has read them already
    if file_format == "auto":
        shape, header = file_header(path, name, choices)
        has_mapping = choices.mapping is not None or mapping_for_header(user, header) is not None
        file_format = format_detect(path=path, shape=shape, header=header, has_mapping=has_mapping)
    _unused_choices_refuse(file_format, choices, name)
    if path and file_format == "plugtrack":
        _check_utf8_file(path, name)
    if file_format == "plugtrack":
        rows_open = partial(_plugtrack_rows, source)
    elif file_format == "teslafi":
        rows_open = partial(teslafi_rows, path, choices=choices, shape=shape)
    else:
        saved = partial(mapping_for_header, user)
        rows_open = partial(mapped_rows, path, preset=file_format, choices=choices, saved_mapping=saved, shape=shape,
                            stored_before=partial(_stored_odometer_before, car))  # fmt: skip
    with _database_refusal(), keep_checked_rows.open("wb") if keep_checked_rows else nullcontext() as checked_rows:
        return _import_file(
            user=user, car=car, source=source, name=name, dry_run=dry_run, allow_partial=allow_partial,
            progress=progress, error_file=error_file, checked_rows=checked_rows, rows_open=rows_open,
        )  # fmt: skip


def _import_file(
    *, user, car, source, name: str, dry_run: bool, allow_partial: bool, progress, error_file: bool, checked_rows,
    rows_open,
) -> ImportReport:  # fmt: skip
    report = ImportReport(source=name, car=f"{car} (id {car.pk})", dry_run=dry_run)
    path = source if isinstance(source, str | Path) else None  # the file itself, for the batch's SHA-256
    errors_to = _ErrorFile(source, report) if error_file else nullcontext()
    with rows_open(name) as (columns, records, detected), errors_to as error_sink:
        report.detected = detected
        try:
            # A dry run writes nothing, so it needs no lock (and does not hold others up).
            with nullcontext() if dry_run else account_write_lock(user.pk):
                _car_still_there(user, car)
                batch = None if dry_run else import_batch_start(
                    user=user, car=car, source_name=name, source_path=path, detected=detected,
                )  # fmt: skip
                charging_sessions_rows_import(
                    user=user, rows=(_for_car(record, car) for record in records), columns=columns,
                    report=report, dry_run=dry_run, error_sink=error_sink, progress=progress, checked_rows=checked_rows,
                    batch=batch,
                )  # fmt: skip
                if not report.rows_read:
                    report.notes.append(no_sessions_message(name))  # not an error: e.g. an empty month
                if report.error_count and (report.stopped_at or not allow_partial):
                    raise _AbortImport  # the batch goes too: nothing was imported
                if batch:
                    import_batch_finish(batch, rows_read=report.rows_read, inserted=report.inserted,
                                        duplicates=report.skipped_duplicates, errors=report.error_count)  # fmt: skip
                    report.batch_id = batch.pk
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
            "format if it is another (--format spreadsheet, evcc)."
        )


def _check_readable_file(path: Path) -> None:
    """Refuse a missing or unreadable file, or a folder, before anything else."""
    if not path.exists():
        raise CsvFileError(f"No file at {path}.")
    if path.is_dir():
        raise CsvFileError(f"{path} is a folder; give the path of a CSV file.")
    try:
        path.open("rb").close()
    except PermissionError:
        raise CsvFileError(f"Cannot read {path}: permission denied.") from None


def _check_utf8_file(path: Path, name: str) -> None:
    """Refuse a missing, unreadable or non-UTF-8 file before reading any row (no rows held)."""
    _check_readable_file(path)
    if (line := first_undecodable_line(path, "utf-8")) is not None:
        raise CsvFileError(
            f'{name} is not UTF-8 text (the first bad byte is on line {line}). Save it as "CSV UTF-8" and try again.'
        )


def _stored_odometer_before(car: Car, day: dt.date) -> tuple[dt.date, int] | None:
    """The car's latest stored session dated before `day`: its date and odometer (odometer_history.py)."""
    return car.sessions.filter(date__lt=day).order_by("-date", "-odometer").values_list("date", "odometer").first()


def _for_car(record: tuple[int, list[str]] | RowIssue, car: Car):
    """A file's record as the engine takes it: with its car (or a row already refused, as it is)."""
    return record if isinstance(record, RowIssue) else (record[0], car, record[1])


@contextmanager
def _plugtrack_rows(source, name: str) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]], dict]]:
    """PlugTrack's own CSV: its checked header, and its records as they are."""
    with _open_text(source) as text:
        records = csv_records(text, name)
        yield header_read(records, name), records, {}


@contextmanager
def _open_text(source) -> Iterator[IO[str]]:
    if isinstance(source, str | Path):
        with text_open(Path(source), "utf-8") as handle:
            yield handle
    else:
        yield source


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
) -> int:
    """Write the user's sessions (one car, or all; dates inclusive) as the sessions CSV.

    Sorted by date, odometer, id. A file path is written whole or not at all. Returns the count.
    """
    lines = charging_sessions_csv(user=user, car=car, date_from=date_from, date_to=date_to)
    with _open_for_writing(target) as handle:
        handle.writelines(lines)
    return lines.count


class _SessionLines:
    """The lines of a sessions CSV (the header first), made as they are read, so that a file or
    a download of any size streams; `count` is the sessions written so far."""

    def __init__(self, sessions, *, user: User, car: Car | None):
        self.sessions, self.user, self.car = sessions, user, car
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        resource = ChargingSessionResource()
        writer = csv.writer(_LineOut())
        yield writer.writerow(HEADER)
        for session in resource.filter_export(self.sessions).iterator(chunk_size=CHUNK_ROWS):
            yield writer.writerow(resource.export_resource(session))
            self.count += 1
        car_id = self.car.pk if self.car else "all"
        logger.info("sessions_export user=%s car_id=%s rows=%d", self.user.username, car_id, self.count)


class _LineOut:
    """What csv.writer writes to: hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def charging_sessions_csv(
    *, user: User, car: Car | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> _SessionLines:
    """The user's sessions (one car, or all; dates inclusive) as the lines of the sessions CSV,
    sorted by date, odometer, id. Checks its arguments at once; reads the sessions as iterated."""
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
    return _SessionLines(sessions, user=user, car=car)


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

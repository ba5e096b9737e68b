"""The import engine: rows of sessions, each for its car, checked by the resource's hooks and
written in chunks, so that memory does not grow with the file.

`charging_sessions_rows_import` is the one service that imports sessions: the CSV import
(`csv_io`) and the backup restore both call it. It reads rows in chunks of CHUNK_ROWS (or
CHUNK_CHARS characters), one car's rows at a time; looks up the keys that can make a row of a
chunk a duplicate for that chunk only (stored ones by the chunk's dates, the file's earlier rows
in one `SeenKeys` file); writes each chunk with one insert (`_CheckedRowsInsert`); keeps the
first errors, warnings and new rows in the report, with a warning for each new row that the
plausibility checks will flag; stops at MAX_ERRORS errors; and recomputes the baseline, flags and
totals of each car it wrote to, once. It opens no transaction: its caller runs it inside one (and its account's lock).
"""

import datetime as dt
import pickle
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import IO, Protocol

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Max
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.errors import excerpt

from ..bounds import BoundedValues, BoundsTally
from ..models import CHRONOLOGICAL, DUPLICATE_KEY, SESSION_FIELD_LABELS, ChargingSession, ImportBatch
from ..plausibility import CHECK_TEXTS, Check, problem_messages
from ..services import sessions_sequence_recompute
from ..totals import month_start
from .csv_format import FIELDS, WIDTH_KIND, CsvFileError, width_problem
from .resources import ChargingSessionResource
from .seen_keys import SeenKeys

CHUNK_ROWS = 2000
CHUNK_CHARS = 4 * 1024 * 1024  # a chunk of long rows (notes) is cut short at this many characters
MAX_ERRORS = 10_000  # an import or restore stops reading at this many errors: it is not that file
# The most rows one import reads (some 80 s of the background worker's time to check): a longer file
# is refused at the row past it, to be imported in parts. A backup holds as many (backups.schema).
MAX_ROWS = 500_000
KEPT_ISSUES = 100  # errors and warnings kept in the report; the rest are counted (and in the .err.csv)
GROUP_EXAMPLES = 3  # rows shown for each kind of problem
MAX_GROUPS = 50
ERROR, WARNING = "error", "warning"
PREVIEW_ROWS = 10  # the first new rows, kept in the report to show what an import would add
Progress = Callable[[int], None]  # told the number of rows read so far


@dataclass
class RowIssue:
    row: int  # line number in the file
    field: str
    value: str
    message: str
    kind: str = ""  # what is wrong, in a few words the report groups by (issue_kinds.py); "" → by message


class RowLeftOut(RowIssue):
    """A row the person chose to leave out (e.g. a blank odometer with the "skip" rule): a warning."""


@dataclass
class IssueGroup:
    """The rows with one kind of problem in one column: how many, and the first few as examples."""

    severity: str  # "error" or "warning"
    field: str
    kind: str
    count: int = 0
    examples: list[RowIssue] = field(default_factory=list)


@dataclass
class ImportReport:
    source: str
    car: str  # as people read it: its name (the command adds its id)
    dry_run: bool
    car_id: int | None = None  # none for a restore's, which may fill several cars
    rows_read: int = 0
    ok_rows: int = 0
    inserted: int = 0
    skipped_duplicates: int = 0
    error_count: int = 0
    warning_count: int = 0
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    error_file: str | None = None
    stopped_at: int | None = None  # the line where reading stopped at MAX_ERRORS errors
    batch_id: int | None = None  # the import's record (batches.py); none for a dry run
    detected: dict = field(default_factory=dict)  # an owner's file: its format and shape, as read
    first_new: list[dict] = field(default_factory=list)  # {"row": line, "cells": {column: text}}
    notes: list[str] = field(default_factory=list)
    # Every problem counted by kind and column, with examples: what the first KEPT_ISSUES cannot show.
    groups: dict[str, IssueGroup] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, issue: RowIssue) -> None:
        self.error_count += 1
        if len(self.errors) < KEPT_ISSUES:
            self.errors.append(issue)
        self._group(ERROR, issue)

    def add_warning(self, issue: RowIssue) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT_ISSUES:
            self.warnings.append(issue)
        self._group(WARNING, issue)

    def _group(self, severity: str, issue: RowIssue) -> None:
        kind = issue.kind or issue.message
        key = f"{severity}|{issue.field}|{kind}"
        if key not in self.groups and len(self.groups) >= MAX_GROUPS:  # kinds worded by message: bounded
            key, kind = f"{severity}|{issue.field}|other", "other problems"
        group = self.groups.setdefault(key, IssueGroup(severity, issue.field, kind))
        group.count += 1
        if len(group.examples) < GROUP_EXAMPLES:
            group.examples.append(issue)

    def to_dict(self) -> dict:
        """As JSON: the groups as a list, errors first, then the largest."""
        groups = sorted(self.groups.values(), key=lambda group: (group.severity != ERROR, -group.count))
        return {"ok": self.ok, **asdict(self), "groups": [asdict(group) for group in groups]}


def issues_labelled(issues: list[dict]) -> list[dict]:
    """Row issues ({row, field, value, message}), each with its column in people's words."""
    return [issue | {"column": column_label(issue["field"])} for issue in issues]


def column_label(field_name: str) -> str:
    """A field in people's words ("energy (kWh)"); a row's problem has none."""
    return SESSION_FIELD_LABELS.get(field_name, "the whole row")


class ErrorSink(Protocol):
    """Where every row error and warning goes besides the report, which keeps only the first (a file)."""

    def write(self, issue: RowIssue, severity: str) -> None: ...


# Django's validators' codes in a report's words; PlugTrack's own errors carry their words as their code.
_VALIDATOR_KINDS = {
    "min_value": "below the least allowed", "max_value": "above the most allowed", "max_digits": "too many digits",
    "max_decimal_places": "too many decimal places", "max_whole_digits": "too many digits before the point",
    "max_length": "too long", "invalid": "",
}  # fmt: skip


def issue_kind(error: ValidationError) -> str:
    """The kind of problem a validation error is, as a report groups it ("" → grouped by its message)."""
    code = error.code or ""
    return _VALIDATOR_KINDS.get(code, code)


# (line in the file, its car, its cells in `columns` order), or a row the caller refused itself.
Row = tuple[int, Car, list[str]] | RowIssue


@dataclass(frozen=True)
class Limits:
    """What bounds an import's work: the rows (or characters of long rows) held and written at once,
    and the most rows one import reads."""

    chunk_rows: int = CHUNK_ROWS
    chunk_chars: int = CHUNK_CHARS
    max_rows: int = MAX_ROWS


@dataclass
class EngineOptions:
    """How `charging_sessions_rows_import` runs.

    `dry_run`: check everything, write nothing. `new_cars`: the cars have no stored sessions (just
    created or emptied), so no stored keys are looked up. `as_stored` (a restore): the rows are
    what PlugTrack stored, brought back exactly (ChargingSessionResource); `price_ceiling`: the most
    a kWh costs, when not the owner's setting of now (a restore: the backup's).
    `error_sink`: where every error and warning goes besides the report. `progress`: told the rows
    read after each chunk. `checked_rows` (a dry run): where to keep the rows found new, typed and
    checked, for `charging_sessions_checked_import` to write later without checking them again.
    `batch`: the import's record, which every inserted session names. `limits`: the work's bounds."""

    dry_run: bool = False
    new_cars: bool = False
    as_stored: bool = False
    price_ceiling: Decimal | None = None
    error_sink: ErrorSink | None = None
    progress: Progress | None = None
    checked_rows: IO[bytes] | None = None
    batch: ImportBatch | None = None
    limits: Limits = field(default_factory=Limits)


def charging_sessions_rows_import(
    *, user: User, rows: Iterable[Row], columns: list[str], report: ImportReport, options: EngineOptions
) -> ImportReport:
    """Import `rows` of `user`'s sessions into `report`, as `options` say; see the module's description."""
    max_rows = options.limits.max_rows
    with _Importer(user=user, report=report, columns=columns, options=options) as importer:
        for row in rows:
            if report.rows_read == max_rows:  # this row is one too many
                importer.stop_at_row_limit(row.row if isinstance(row, RowIssue) else row[0], max_rows)
                break
            if isinstance(row, RowLeftOut):
                report.rows_read += 1
                importer.warn(row)
            elif isinstance(row, RowIssue):
                importer.reject(row)
            elif problem := width_problem(row[2], columns):
                importer.reject(RowIssue(row[0], "", "", problem, WIDTH_KIND))
            else:
                importer.add(*row)
            if report.stopped_at:
                break
        importer.finish()
    return report


class _Importer:
    def __init__(self, *, user: User, report: ImportReport, columns: list[str], options: EngineOptions):
        self.user, self.report, self.columns, self.options = user, report, columns, options
        self.dry_run, self.error_sink = options.dry_run, options.error_sink
        self._seen = SeenKeys()
        self._resources: dict[int, tuple[ChargingSessionResource, int]] = {}  # id(car) -> (resource, key scope)
        self._pending: tuple[ChargingSessionResource, int, list[list[str]], list[int]] | None = None
        self._pending_chars = 0
        self._rejected: list[RowIssue] = []
        self._written_cars: set[int] = set()
        self._written_months: set[dt.date] = set()  # the months of the rows written, their first and last dates
        self._written_span: tuple[dt.date, dt.date] | None = None
        self._stored_until: dict[int, int | None] = {}  # scope -> the car's last stored id before the import
        self._bounds = BoundsTally()

    def __enter__(self) -> "_Importer":
        return self

    def __exit__(self, *exc_info) -> None:
        self._seen.close()  # however the import ends

    def add(self, line: int, car: Car, cells: list[str]) -> None:
        self.report.rows_read += 1
        resource, scope = self._resource(car)
        if self._pending and self._pending[0] is not resource:
            self._flush()  # one car's rows at a time: memory stays one chunk, however many cars
        if self._pending is None:
            self._pending = (resource, scope, [], [])
        _, _, rows, lines = self._pending
        rows.append(cells)
        lines.append(line)
        self._pending_chars += sum(map(len, cells))
        if len(rows) >= self.options.limits.chunk_rows or self._pending_chars >= self.options.limits.chunk_chars:
            self._flush()

    def stop_at_row_limit(self, line: int, limit: int) -> None:
        """Stop reading at `line`, past `limit` rows, with an error there: the import writes nothing."""
        if self._pending:
            self._flush()  # the rows before it are reported first, in file order
        self._record(self._rejected)
        self._rejected = []
        if self.report.stopped_at:  # stopped at MAX_ERRORS by those rows
            return
        self.report.stopped_at = line
        self.report.notes.append(
            f"Stopped reading at line {line}: the file has more than {limit:,} rows, the most one import reads, so "
            f"nothing will be written. Split it into files of at most {limit:,} rows each and import them one by one."
        )
        self._record([RowIssue(line, "", "", f"more than {limit:,} rows: split the file and import each part.")])

    def _resource(self, car: Car) -> tuple[ChargingSessionResource, int]:
        if id(car) not in self._resources:  # made as each car's rows come: cars without any cost nothing
            resource = ChargingSessionResource(
                user=self.user, car=car, as_stored=self.options.as_stored, price_ceiling=self.options.price_ceiling
            )
            scope = len(self._resources)
            self._resources[id(car)] = (resource, scope)
            if car.pk is not None and not self.options.new_cars:  # those the new rows will be checked against
                stored = ChargingSession.objects.filter(car=car).order_by()
                self._stored_until[scope] = stored.aggregate(last=Max("pk"))["last"]
        return self._resources[id(car)]

    def _stored_neighbours(self, car: Car, scope: int) -> None:
        """The car's sessions stored before the import that the plausibility checks of its new rows read
        (`SeenKeys.flagged`), from the database into the key store: those dated from the new rows'
        first date to their last, and the two before and the two after (a new row's neighbour and that
        neighbour's own), so that one new session reads a few sessions, not the car's whole history."""
        until, span = self._stored_until.get(scope), self._seen.dates(scope=scope)
        if until is None or span is None:  # nothing stored before, or no new row
            return
        first, last = span
        stored = ChargingSession.objects.filter(car=car, pk__lte=until).order_by()
        before = stored.filter(date__lt=first).order_by(*(f"-{name}" for name in CHRONOLOGICAL))[:2]
        after = stored.filter(date__gt=last).order_by(*CHRONOLOGICAL)[:2]
        for sessions in (before, stored.filter(date__gte=first, date__lte=last), after):
            rows = sessions.values_list("pk", *DUPLICATE_KEY, "checks")
            self._seen.add_stored(((pk, key, checks) for pk, *key, checks in rows.iterator(CHUNK_ROWS)), scope=scope)

    def reject(self, issue: RowIssue) -> None:
        """Count a row that cannot be imported at all (a wrong number of cells)."""
        self.report.rows_read += 1
        self._rejected.append(issue)
        # (a file of nothing but such rows: memory stays one chunk)
        if len(self._rejected) >= self.options.limits.chunk_rows:
            if self._pending:
                self._flush()  # reports the rejected rows with the chunk's, in file order
            else:
                self._record(self._rejected)
                self._rejected = []

    def finish(self) -> None:
        if self._pending:
            self._flush()
        self._record(self._rejected)
        self._bounds_check()
        for resource, scope in self._resources.values():
            if not self.report.stopped_at:  # nothing will be written: the errors are what to fix
                self._warn_of_checks(resource.car, scope)
        if self._written_cars:
            # once per car, for the whole import: from its earliest new row (all of a new car's)
            changed = None if self.options.new_cars else {*self._written_span, *self._written_months}
            sessions_sequence_recompute(
                car_ids=self._written_cars, rows_written=self.report.inserted, changed_dates=changed
            )  # fmt: skip

    def _flush(self) -> None:
        resource, scope, rows, lines = self._pending
        self._pending, self._pending_chars = None, 0
        new, duplicates, invalid = self._import_chunk(resource, scope, rows, lines)
        self.report.inserted += len(new)
        self.report.skipped_duplicates += duplicates
        self.report.ok_rows += len(new) + duplicates
        for number in new[: PREVIEW_ROWS - len(self.report.first_new)]:
            cells = {
                column: excerpt(text.strip(), 60) for column, text in zip(self.columns, rows[number - 1], strict=True)
            }
            self.report.first_new.append({"row": lines[number - 1], "cells": cells})

        column_index = {name: index for index, name in enumerate(self.columns)}

        def cell(number: int, column: str) -> str:
            return excerpt(rows[number - 1][column_index[column]].strip(), 100) if column in column_index else ""

        issues, self._rejected = self._rejected, []
        for number, errors in invalid:
            for field_name, field_errors in errors.items():
                column = "" if field_name == "__all__" else field_name
                issues += [
                    RowIssue(lines[number - 1], column, cell(number, column), message, issue_kind(error))
                    for error in field_errors for message in error.messages
                ]  # fmt: skip
        self._record(issues)
        for number, column, message, kind in resource.warnings:
            self.warn(RowIssue(lines[number - 1], column, cell(number, column), message, kind))
        resource.warnings.clear()
        if self.options.progress:
            self.options.progress(self.report.rows_read)
        # (a large file wrong as a whole stops at its first chunks)
        if self.report.rows_read >= self.options.limits.chunk_rows:
            self._bounds_check()

    def _bounds_check(self) -> None:
        """Refuse the file as a whole when most of its rows break one hard bound (bounds.BoundsTally)."""
        message = self._bounds.most_rows_message(rows=self.report.rows_read, source=self.report.source,
                                                 labels=SESSION_FIELD_LABELS)  # fmt: skip
        if message:
            raise CsvFileError(message)

    def _warn_of_checks(self, car: Car, scope: int) -> None:
        """A warning row for each problem the plausibility checks find in a new row, or newly in a stored
        session next to one (the rows are imported all the same, the flagged ones marked)."""
        self._stored_neighbours(car, scope)
        for row in self._seen.flagged(scope=scope, battery_kwh=car.battery_kwh):
            problems = problem_messages(
                row.checks, odometer=row.odometer, kwh=row.kwh, battery_kwh=car.battery_kwh,
                previous=row.previous, following=row.following,
            )  # fmt: skip
            for check, message in problems.items():
                if check is Check.IMPOSSIBLE:
                    continue  # a bound: refused, or (a restore) said by the resource with the value and the bound
                if row.stored:
                    message = f"the stored session {row.stored} would then be flagged: {message}"
                if check is Check.KWH_ABOVE_BATTERY:
                    column, value = "charge_delivered_kwh", row.kwh
                else:  # the other checks are about the odometer against its neighbours
                    column, value = "odometer", row.odometer
                self.warn(RowIssue(row.line, column, str(value), f"Please check: {message}", CHECK_TEXTS[check]))

    def warn(self, issue: RowIssue) -> None:
        self.report.add_warning(issue)
        if self.error_sink:
            self.error_sink.write(issue, WARNING)

    def _import_chunk(
        self, resource, scope: int, rows: list[list[str]], lines: list[int]
    ) -> tuple[list[int], int, list]:
        """Each row through the resource's hooks (init_instance, import_instance, validate_instance),
        the library's rules without its per-row bookkeeping (results, diffs), several times slower
        than the insert itself. Returns (new rows' numbers in the chunk, duplicates, invalid rows)."""
        parsed = []
        for number, cells in enumerate(rows, start=1):
            row = dict(zip(self.columns, cells, strict=True))
            instance = resource.init_instance(row)
            try:
                resource.import_instance(instance, row, row_number=number)
                errors = {}
            except ValidationError as error:
                errors = error.update_error_dict({})
            parsed.append((number, instance, errors))

        keys = [_key(instance) for _, instance, errors in parsed if not errors]
        stored = set() if self.options.new_cars else stored_keys(self.user, resource.car, keys)
        known = self._seen.among(keys, scope=scope) | stored
        new, duplicates, invalid, dropped_warnings = [], 0, [], set()
        for number, instance, errors in parsed:
            if not errors and _key(instance) in known:
                duplicates += 1
                dropped_warnings.add(number)  # a skipped row is not worth a warning
                continue
            try:
                resource.validate_instance(instance, errors, row_number=number)
            except ValidationError as error:
                invalid.append((number, error.error_dict))
                values = BoundedValues(instance.charge_delivered_kwh, resource.car.battery_kwh, instance.cost_per_kwh,
                                       resource.price_ceiling)  # fmt: skip
                self._bounds.count(error.error_dict, lines[number - 1], values)
                dropped_warnings.add(number)
                continue
            known.add(_key(instance))
            new.append((number, instance))
        resource.warnings = [warning for warning in resource.warnings if warning[0] not in dropped_warnings]
        sessions = [instance for _, instance in new]
        self._seen.add(((_key(session), lines[number - 1]) for number, session in new), scope=scope)
        values = [[getattr(session, name) for name in FIELDS] for session in sessions]
        if self.options.checked_rows and values:
            pickle.dump(values, self.options.checked_rows)
        if values and not self.dry_run:
            _CheckedRowsInsert(self.user, resource.car, self.options.batch)(values)
            self._written_cars.add(resource.car.pk)
            self._written(session.date for session in sessions)
        return [number for number, _ in new], duplicates, invalid

    def _written(self, dates: Iterable[dt.date]) -> None:
        for day in dates:
            self._written_months.add(month_start(day))
            first, last = self._written_span or (day, day)
            self._written_span = (min(first, day), max(last, day))

    def _record(self, issues: list[RowIssue]) -> None:
        for issue in sorted(issues, key=lambda issue: issue.row):
            self.report.add_error(issue)
            if self.error_sink:
                self.error_sink.write(issue, ERROR)
        if issues and self.report.error_count >= MAX_ERRORS and not self.report.stopped_at:
            self.report.stopped_at = issues[-1].row
            self.report.notes.append(
                f"Stopped reading at line {issues[-1].row}: {MAX_ERRORS:,} rows have errors, so the rest of the "
                "file was not checked and nothing will be written. Is this the right file?"
            )


def _key(instance: ChargingSession) -> tuple:
    return (instance.date, instance.odometer, instance.charge_delivered_kwh)


def stored_keys(user: User, car: Car, keys: list[tuple]) -> set[tuple]:
    """Those of `keys` the car has stored already, in one query of a few SQL shapes."""
    if car.pk is None or not keys:
        return set()
    dates = sorted({key[0] for key in keys})
    # Padded to a power of two with dates of the year 1 (Django drops repeated values): each new
    # number of dates would be new SQL, and SQLite keeps 128 prepared statements with all their
    # placeholders, some 25 MB. Only real keys match below.
    padding = (1 << (len(dates) - 1).bit_length()) - len(dates)
    dates += [dt.date.min + dt.timedelta(days=day) for day in range(padding)]
    stored = ChargingSession.objects.filter(user=user, car=car, date__in=dates)
    return set(stored.values_list(*DUPLICATE_KEY)) & set(keys)


def charging_sessions_checked_import(
    *, user: User, car: Car, checked_rows: IO[bytes], report: ImportReport, progress: Progress | None = None,
    batch: ImportBatch | None = None,
) -> ImportReport:  # fmt: skip
    """Write into `car` the rows a dry run kept in `checked_rows` (typed and checked already).

    Only what may have changed since the check is looked at again: a row whose key another import
    has stored meanwhile is a duplicate. Counts are added to `report`'s. The caller holds the lock.
    """
    insert = _CheckedRowsInsert(user, car, batch)
    written, dates = 0, set()
    while chunk := _next_chunk(checked_rows):
        stored = stored_keys(user, car, [_row_key(values) for values in chunk])
        new = [values for values in chunk if _row_key(values) not in stored]
        insert(new)
        dates |= {values[_DATE_INDEX] for values in new}
        report.inserted += len(new)
        report.skipped_duplicates += len(chunk) - len(new)
        written += len(chunk)
        if progress:
            progress(written)
    report.ok_rows += written
    if report.inserted:
        sessions_sequence_recompute(car_ids=[car.pk], rows_written=report.inserted, changed_dates=dates)
    return report


class _CheckedRowsInsert:
    """Inserts rows of checked values, each value made ready for the database by its model field as
    bulk_create does, without building a model per row or SQL per batch (which made confirming an
    import cost half as much again as checking it): on SQLite one prepared statement run over the
    rows, on PostgreSQL a COPY (bulk_create there binds a placeholder per value, and the
    statement's size, not the insert, took most of the time)."""

    def __init__(self, user: User, car: Car, batch: ImportBatch | None = None):
        # The connection itself, not django.db.connection: that proxy looks it up again on every use,
        # and preparing the values uses it once per value (half the time of the insert).
        self.db = db = connections[DEFAULT_DB_ALIAS]
        self.fields = [ChargingSession._meta.get_field(name) for name in FIELDS]
        created_at = ChargingSession._meta.get_field("created_at")
        self.fixed = [user.pk, car.pk, False, 0, created_at.get_db_prep_save(timezone.now(), db), batch and batch.pk]
        columns = [field.column for field in self.fields]
        columns += ["user_id", "car_id", "is_baseline", "checks", "created_at", "batch_id"]
        table = db.ops.quote_name(ChargingSession._meta.db_table)
        names = ", ".join(db.ops.quote_name(column) for column in columns)
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
        self.copy_sql = f"COPY {table} ({names}) FROM STDIN"

    def __call__(self, rows: list[list]) -> None:
        prepared = [
            [field.get_db_prep_save(value, self.db) for field, value in zip(self.fields, values, strict=True)]
            + self.fixed
            for values in rows
        ]
        with self.db.cursor() as cursor:
            if self.db.vendor == "postgresql":
                # psycopg's own cursor, its errors made Django's as for any query
                with self.db.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                    for values in prepared:
                        copy.write_row(values)
            else:
                cursor.executemany(self.sql, prepared)


_KEY_INDEXES = [FIELDS.index(name) for name in DUPLICATE_KEY]
_DATE_INDEX = FIELDS.index("date")


def _row_key(values: list) -> tuple:
    """The duplicate key of a row of checked values (in FIELDS order)."""
    return tuple(values[index] for index in _KEY_INDEXES)


def _next_chunk(handle: IO[bytes]) -> list | None:
    try:
        return pickle.load(handle)  # a file this engine wrote itself, in PlugTrack's own data folder
    except EOFError:
        return None

"""TeslaFi's data export: one row per poll of the car (about 150 columns), not one per charge.
Sessions are reconstructed from the polls, as TeslaMate's own TeslaFi import does: a session is a
run of polls whose charging_state is Charging (or Starting), closed by the first poll that is not
(Complete or Stopped, whose figures count too; Disconnected...); a drop in charge_energy_added
starts a new one. Each session becomes PlugTrack's cells:

    date            the local date of its first poll (TeslaFi writes local time)
    odometer        at its first poll (miles), rounded
    charge_type     DC when any poll says fast_charger_present, else AC
    charge_power_kw the highest charger_power
    location_label  the first poll's location (TeslaFi's tagged place), when the file has one
    kWh             the highest charge_energy_added
    duration        first to last poll, in minutes
    SoC from / to   battery_level at the first and last poll
    temperature     the mean outside_temp (°C)
    notes           "PlugTrack: reconstructed from N TeslaFi polls, 18:02–21:35"

A value TeslaFi did not read is written None (or null, NaN, an empty cell): it is missing, not the
poll's error; only a poll without its date and time, or with text that is not a number where a
number goes, is. A session's odometer is the first among its polls; with none at all, the session is
its first poll's line's error.

The polls are rebuilt in time order, whatever the file's (newest first, two exports merged). The
order is TeslaFi's data_id, its number of the poll, which follows time and, unlike the local time
TeslaFi writes, does not go back an hour when the clocks do (a charge through that night would be
rebuilt from two hours' polls interleaved); a file without data_id is ordered by Date. A file in
data_id order already (TeslaFi's own, as downloaded: the first pass over it says) is rebuilt as it
is read; any other is sorted on disk first, in a temporary SQLite file, so memory stays flat however
long the file is. A poll whose data_id (or time) is one kept already (where merged exports overlap)
is that poll again: the first is kept.
"""

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from pathlib import Path

from plugtrack_site.numbers import decimal_parsed, decimal_text

from ..choices import ImportChoices
from ..csv_format import HEADER, CsvFileError, csv_records, width_problem
from ..importer import RowIssue
from ..seen_keys import temporary_database
from . import OpenedRows
from .mapped import date_iso, number_plain, shape_start, text_open
from .shape import FileShape, ShapeQuestion, scanned_rows, values_questions, values_scan

# TeslaFi's poll columns that make a file TeslaFi's.
TESLAFI_COLUMNS = ("date", "charging_state", "charge_energy_added", "battery_level", "odometer")
_CHARGING = ("charging", "starting")
_CLOSING = ("complete", "stopped")
_OPTIONAL = ("outside_temp", "fast_charger_present", "charger_power", "location", "data_id")
_NUMBERS = ("charge_energy_added", "battery_level", "odometer", "outside_temp", "charger_power")
_TIME = re.compile(r"[T ](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?")
_TRUE = ("true", "1", "yes")
_DATA_ID = re.compile(r"\d{1,18}", re.ASCII)  # (a longer number is no poll's, and more than SQLite's integers)
_MISSING = ("", "none", "null", "nan")  # a value TeslaFi did not read (Python's None, as it writes it)
_ENERGY_NOISE = Decimal("0.5")  # a drop of charge_energy_added by more than this: a new charge began
_CLOCKS_BACK = dt.timedelta(hours=1)  # how far the local time of polls in data_id order may go back
# What each of PlugTrack's fields is made of (the report says it); the last word is the poll's column.
_SOURCES = {
    "date": "the first poll's date", "odometer": "the first poll's odometer", "charge_type": "fast_charger_present",
    "charge_power_kw": "the highest charger_power", "location_label": "the first poll's location",
    "charge_delivered_kwh": "the highest charge_energy_added", "duration_mins": "first to last poll's date",
    "soc_from": "the first poll's battery_level", "soc_to": "the last poll's battery_level",
    "ambient_temp_c": "the mean outside_temp",
}  # fmt: skip


@dataclass
class _Session:
    line: int  # the line of its first poll
    date: str
    started: dt.datetime
    location: str = ""
    polls: int = 0
    odometer: Decimal | None = None
    energy: Decimal | None = None
    soc_from: Decimal | None = None
    soc_to: Decimal | None = None
    power: Decimal | None = None
    dc: bool = False
    # A sum and a count, not a list: a session of any length is held in constant memory.
    temperature_sum: Decimal = Decimal(0)
    temperature_count: int = 0
    ended: dt.datetime | None = None

    def add(self, poll: dict) -> None:
        self.polls += 1
        self.ended = poll["time"]
        # The first poll's, or the first among its polls when TeslaFi did not read it then.
        self.location = self.location or poll["location"]
        if self.odometer is None:
            self.odometer = poll["odometer"]
        if self.soc_from is None:
            self.soc_from = poll["battery_level"]
        self.soc_to = poll["battery_level"] if poll["battery_level"] is not None else self.soc_to
        if poll["charge_energy_added"] is not None:
            self.energy = max(self.energy or Decimal(0), poll["charge_energy_added"])
        if poll["charger_power"] is not None:
            self.power = max(self.power or Decimal(0), poll["charger_power"])
        self.dc = self.dc or poll["fast_charger_present"]
        if poll["outside_temp"] is not None:
            self.temperature_sum += poll["outside_temp"]
            self.temperature_count += 1

    def row(self) -> tuple[int, list[str]] | RowIssue:
        """(its line, PlugTrack's cells), or its line's error when none of its polls has an odometer or
        charge_energy_added (the engine would only say "A value is required")."""
        span = f"{self.started:%H:%M}–{self.ended:%H:%M}"
        found = {"odometer": self.odometer, "charge_energy_added": self.energy}
        if missing := [column for column, value in found.items() if value is None]:
            return RowIssue(
                self.line, "odometer" if self.odometer is None else "charge_delivered_kwh", "",
                f"The charge of {self.date}, {span} ({self.polls} TeslaFi poll{'s' if self.polls > 1 else ''}, the "
                f"first on this line) has no {' and no '.join(missing)}: TeslaFi wrote None in every one of its polls "
                f"(it could not read the car). Fill in the {' and '.join(missing)} of one of them.",
            )  # fmt: skip
        return self.line, self.cells(span)

    def cells(self, span: str) -> list[str]:
        minutes = (self.ended - self.started).total_seconds() / 60
        mean = self.temperature_sum / self.temperature_count if self.temperature_count else None
        values = {
            "date": self.date, "odometer": _whole(self.odometer), "charge_type": "DC" if self.dc else "AC",
            "charge_power_kw": decimal_text(self.power), "location_label": self.location,
            "charge_delivered_kwh": decimal_text(self.energy), "duration_mins": str(round(minutes)),
            "soc_from": _whole(self.soc_from), "soc_to": _whole(self.soc_to),
            "ambient_temp_c": "" if mean is None else str(mean.quantize(Decimal("0.1"), ROUND_HALF_UP)),
            "notes": f"PlugTrack: reconstructed from {self.polls} TeslaFi polls, {span}",
        }  # fmt: skip
        return [values.get(column, "") for column in HEADER]


def _whole(value: Decimal | None) -> str:
    return "" if value is None else str(value.quantize(Decimal(1), ROUND_HALF_UP))


@dataclass
class TeslafiRows:
    """TeslaFi's polls rebuilt into sessions (a RowSource): the polls that cannot be read as their
    lines' errors, then the sessions with the line of their first poll. `shape`: the file's encoding
    and delimiter, when found already (as for MappedRows)."""

    path: Path
    choices: ImportChoices
    shape: FileShape | None = None

    @contextmanager
    def open(self, name: str) -> Iterator[OpenedRows]:
        path, choices = self.path, self.choices
        shape = self.shape or shape_start(path, name, choices)
        with text_open(path, shape.encoding) as text:
            records = csv_records(text, name, delimiter=shape.delimiter)
            header = next(records, (0, None))[1] or []
            columns = _columns(header, name)
            numbers = [columns[column] for column in _NUMBERS if column in columns]
            order = _DataIdOrder(columns.get("data_id"))
            scanned = scanned_rows(order.watched(records), len(header), columns["date"], numbers)
            values_scan(shape, scanned, name, choices)
        detected = {
            "format": "teslafi", **shape.describe(), "mapping": "TeslaFi polls → sessions",
            "columns": {column: source for column, source in _SOURCES.items() if source.split()[-1] in columns},
            "ignored_columns": [], "money": "none in the file", "blank_odometer": "error",
        }  # fmt: skip
        with text_open(path, shape.encoding) as text:
            records = csv_records(text, name, delimiter=shape.delimiter)
            next(records, None)
            # (closed however the import ends: a sort's temporary store with it)
            with closing(_sessions(records, name, header, columns, shape, sort=not order.in_order)) as rows:
                yield OpenedRows(list(HEADER), rows, detected)


    def questions(self, name: str, *, rows: int) -> list[ShapeQuestion]:
        """What the check would ask, read from the file's first `rows` polls (shape.values_questions);
        none when it is no TeslaFi export (the check says why)."""
        shape = self.shape or shape_start(self.path, name, self.choices)
        with text_open(self.path, shape.encoding) as text:
            records = csv_records(text, name, delimiter=shape.delimiter)
            header = next(records, (0, None))[1] or []
            try:
                columns = _columns(header, name)
            except CsvFileError:
                return []
            numbers = [columns[column] for column in _NUMBERS if column in columns]
            scanned = scanned_rows(islice(records, rows), len(header), columns["date"], numbers)
            return values_questions(shape, scanned, name, self.choices)


def _columns(header: list[str], name: str) -> dict[str, int]:
    positions = {heading.strip().lower(): index for index, heading in enumerate(header)}
    missing = [column for column in TESLAFI_COLUMNS if column not in positions]
    if missing:
        raise CsvFileError(f"{name} is not a TeslaFi export: it has no {', '.join(missing)} column.")
    return {column: positions[column] for column in (*TESLAFI_COLUMNS, *_OPTIONAL) if column in positions}


class _DataIdOrder:
    """Watches the first pass over the file: are its polls in data_id order already, each number higher
    than the one before? (TeslaFi's own export is, as downloaded: it needs no sorting.)"""

    def __init__(self, index: int | None):
        self.index, self.in_order, self._last = index, index is not None, -1

    def watched(self, records: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
        for line, cells in records:
            if self.in_order:
                number = cells[self.index].strip() if self.index < len(cells) else ""
                if _DATA_ID.fullmatch(number) and int(number) > self._last:
                    self._last = int(number)
                else:
                    self.in_order = False
            yield line, cells


def _sessions(records, name: str, header: list[str], columns: dict[str, int], shape, *, sort: bool) -> Iterator:
    """Each poll that cannot be read, as its line's error (in the file's order); the sessions rebuilt
    from the others in time order: as they are read, or once all are sorted (`sort`)."""
    polls = _polls(records, header, columns, shape)
    if not sort:
        yield from _rebuilt(_checked(polls, name), shape)
        return
    with _PollStore() as store:
        for poll in polls:
            if isinstance(poll, RowIssue):
                yield poll
            else:
                store.add(poll)
        yield from _rebuilt(_checked(store.in_order(), name), shape)


def _polls(records, header: list[str], columns: dict[str, int], shape) -> Iterator[tuple | RowIssue]:
    """The file's polls as the store keeps them (_KEPT), or their lines' errors."""
    for line, cells in records:
        if cells == header:
            continue  # the header again: two exports joined end to end
        if problem := width_problem(cells, header):
            yield RowIssue(line, "", "", problem)
            continue
        try:
            yield _poll(line, cells, columns, shape)
        except _BadPoll as bad:
            yield RowIssue(line, bad.column, bad.value, f"TeslaFi poll: {bad.column} is not {bad.expected}")


def _checked(polls: Iterable[tuple | RowIssue], name: str) -> Iterator[tuple | RowIssue]:
    """The polls in data_id order, refused where their Date goes back by more than the clocks do."""
    latest = None  # the latest poll so far: the Date may go back an hour (the clocks), not creep back further
    for kept in polls:
        if isinstance(kept, RowIssue):
            yield kept
            continue
        # (Times as ISO text compare as the times do: the text is read as a time only when it goes back.)
        if latest and kept[_AT_TIME] < latest[_AT_TIME]:
            time, then = dt.datetime.fromisoformat(kept[_AT_TIME]), dt.datetime.fromisoformat(latest[_AT_TIME])
            if time < then - _CLOCKS_BACK:
                raise CsvFileError(
                    f"{name}: the polls' data_id and Date disagree: line {kept[_AT_LINE]} (data_id {kept[_AT_KEY]}) "
                    f"is dated {time:%Y-%m-%d %H:%M}, more than an hour before line {latest[_AT_LINE]} (data_id "
                    f"{latest[_AT_KEY]}, {then:%Y-%m-%d %H:%M}). TeslaFi numbers its polls in time order: correct the "
                    "file, or remove its data_id column to put the polls in the order of their Date."
                )
        else:
            latest = kept
        yield kept


def _rebuilt(polls: Iterable[tuple | RowIssue], shape) -> Iterator:
    zone = zoneinfo.ZoneInfo(shape.time_zone) if shape.time_zone else None
    current: _Session | None = None
    for kept in polls:
        if isinstance(kept, RowIssue):
            yield kept
            continue
        charging = kept[_AT_STATE] in _CHARGING  # (none at all: the car asleep or offline, not charging)
        if current is None and not charging:
            continue  # idle, as most polls are: nothing to close or to start, its values not even read
        poll = _values(kept)
        energy = poll["charge_energy_added"]
        restarted = current and None not in (energy, current.energy) and energy < current.energy - _ENERGY_NOISE
        if current and (restarted or not charging):
            if poll["charging_state"] in _CLOSING:
                current.add(poll)  # its final figures (not a "Disconnected" poll, maybe hours later)
            yield current.row()
            current = None
        if charging:
            if current is None:
                current = _Session(poll["line"], date_iso(poll["date"], shape.date_order, zone), poll["time"])
            current.add(poll)
    if current:
        yield current.row()  # still charging at the file's end: what it had so far


class _BadPoll(Exception):
    def __init__(self, column: str, value: str, expected: str = "a number. Correct it, or write None if not known."):
        self.column, self.value, self.expected = column, value, expected


# A poll as the store keeps it: its place in the order (its data_id, else its time), its time as ISO text
# (which sorts as the times do), its line, its Date as written, then what the rebuild uses (numbers as their
# plain text, checked; None where TeslaFi read nothing).
_KEPT = ("key", "time", "line", "date", "charging_state", *_NUMBERS, "fast_charger_present", "location")
_AT_KEY, _AT_TIME, _AT_LINE, _AT_STATE = (_KEPT.index(column) for column in ("key", "time", "line", "charging_state"))


def _poll(line: int, cells: list[str], columns: dict[str, int], shape) -> tuple:
    """A poll as the store keeps it (_KEPT), or _BadPoll when its Date or a number cannot be read."""
    numbers = []
    for column in _NUMBERS:  # (inline, not a call per cell: five cells a poll, a million in a long file)
        text = cells[columns[column]].strip() if column in columns else ""
        if text.isascii() and text.isdecimal() and len(text) <= 12:  # most cells: a whole number, nothing to check
            numbers.append(text)
        elif text.lower() in _MISSING:
            numbers.append(None)
        else:
            plain = number_plain(text, shape.decimal_comma)
            if decimal_parsed(plain) is None:  # (not Infinity, nor 30 digits)
                raise _BadPoll(column, cells[columns[column]])
            numbers.append(plain)
    date = cells[columns["date"]].strip()
    time = _poll_time(date, shape.date_order)
    if time is None:
        expected = "a date and time (e.g. 2026-11-02 18:00:00). Correct it, or delete the line."
        raise _BadPoll("Date", cells[columns["date"]], expected)
    key = stamp = time.isoformat(" ")
    if "data_id" in columns:
        if not _DATA_ID.fullmatch(number := cells[columns["data_id"]].strip()):
            expected = ("TeslaFi's number of the poll, which puts the polls in order. Correct it, or remove the "
                        "data_id column to put the polls in the order of their Date.")  # fmt: skip
            raise _BadPoll("data_id", cells[columns["data_id"]], expected)
        key = int(number)
    state = cells[columns["charging_state"]].strip().lower()
    present = cells[columns["fast_charger_present"]] if "fast_charger_present" in columns else ""
    location = cells[columns["location"]].strip() if "location" in columns else ""
    location = "" if location.lower() in _MISSING else location
    return (key, stamp, line, date, state, *numbers, present.strip().lower() in _TRUE, location)


def _values(kept: tuple) -> dict:
    """A kept poll as the rebuild reads it: its time a datetime, its numbers Decimals."""
    poll = dict(zip(_KEPT, kept, strict=True))
    poll["time"] = dt.datetime.fromisoformat(poll["time"])
    for column in _NUMBERS:
        poll[column] = None if poll[column] is None else Decimal(poll[column])
    poll["fast_charger_present"] = bool(poll["fast_charger_present"])
    return poll


def _poll_time(text: str, order: str | None) -> dt.datetime | None:
    """A poll's local date and time (ISO, or day/month or month/day with a 12- or 24-hour clock)."""
    date, match = date_iso(text, order), _TIME.search(text)
    if match is None:
        return None
    hour, minute, second, half = int(match[1]), int(match[2]), int(match[3] or 0), (match[4] or "").lower()
    hour = hour % 12 + (12 if half == "pm" else 0) if half else hour
    try:
        return dt.datetime.combine(dt.date.fromisoformat(date), dt.time(hour, minute, second))
    except ValueError:  # not a date, or 25:70
        return None


class _PollStore:
    """A file's polls, kept on disk (in a temporary SQLite file, as seen_keys.SeenKeys keeps its keys)
    and read back in order: memory holds one batch, however long the file is."""

    _BATCH = 1000

    def __init__(self):
        self._db = temporary_database("plugtrack-polls-")
        # Keyed by data_id (or time): a poll with the key of one kept already is that poll again (merged
        # exports overlap). The key has no type: whole numbers sort as numbers, times as text.
        self._db.execute(
            "CREATE TABLE poll (key PRIMARY KEY, time TEXT, line INTEGER, date TEXT, charging_state TEXT, "
            + "".join(f"{column} TEXT, " for column in _NUMBERS)
            + "fast_charger_present INTEGER, location TEXT) WITHOUT ROWID"
        )
        self._batch: list[tuple] = []

    def __enter__(self) -> "_PollStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self._db.close()  # however the import ends

    def add(self, poll: tuple) -> None:
        self._batch.append(poll)
        if len(self._batch) >= self._BATCH:
            self._flush()

    def _flush(self) -> None:
        # The first poll of a key is kept: polls are added in the file's order.
        self._db.executemany(f"INSERT OR IGNORE INTO poll VALUES ({', '.join('?' * len(_KEPT))})", self._batch)
        self._batch = []

    def in_order(self) -> Iterator[tuple]:
        self._flush()
        return self._db.execute(f"SELECT {', '.join(_KEPT)} FROM poll ORDER BY key")

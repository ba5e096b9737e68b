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

The file streams: only the session being built is held.
"""

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from .csv_format import HEADER, CsvFileError, csv_records, width_problem
from .file_shape import FileShape, scanned_rows, values_scan
from .import_choices import ImportChoices
from .importer import RowIssue
from .mapped_csv import date_iso, number_plain, shape_start, text_open
from .presets import TESLAFI_COLUMNS

_CHARGING = ("charging", "starting")
_CLOSING = ("complete", "stopped")
_OPTIONAL = ("outside_temp", "fast_charger_present", "charger_power", "location")
_NUMBERS = ("charge_energy_added", "battery_level", "odometer", "outside_temp", "charger_power")
_TIME = re.compile(r"[T ](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?")
_TRUE = ("true", "1", "yes")
_ENERGY_NOISE = Decimal("0.5")  # a drop of charge_energy_added by more than this: a new charge began
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
    started: dt.datetime | None
    location: str
    polls: int = 0
    odometer: Decimal | None = None
    energy: Decimal = Decimal(0)
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
        self.ended = poll["time"] or self.ended
        if self.odometer is None:
            self.odometer = poll["odometer"]
        if self.soc_from is None:
            self.soc_from = poll["battery_level"]
        self.soc_to = poll["battery_level"] if poll["battery_level"] is not None else self.soc_to
        self.energy = max(self.energy, poll["charge_energy_added"] or Decimal(0))
        if poll["charger_power"] is not None:
            self.power = max(self.power or Decimal(0), poll["charger_power"])
        self.dc = self.dc or poll["fast_charger_present"]
        if poll["outside_temp"] is not None:
            self.temperature_sum += poll["outside_temp"]
            self.temperature_count += 1

    def cells(self) -> list[str]:
        minutes = (self.ended - self.started).total_seconds() / 60 if self.started and self.ended else None
        mean = self.temperature_sum / self.temperature_count if self.temperature_count else None
        span = f", {self.started:%H:%M}–{self.ended:%H:%M}" if self.started and self.ended else ""
        values = {
            "date": self.date, "odometer": _whole(self.odometer), "charge_type": "DC" if self.dc else "AC",
            "charge_power_kw": _text(self.power), "location_label": self.location,
            "charge_delivered_kwh": _text(self.energy), "duration_mins": "" if minutes is None else str(round(minutes)),
            "soc_from": _whole(self.soc_from), "soc_to": _whole(self.soc_to),
            "ambient_temp_c": "" if mean is None else str(mean.quantize(Decimal("0.1"), ROUND_HALF_UP)),
            "notes": f"PlugTrack: reconstructed from {self.polls} TeslaFi polls{span}",
        }  # fmt: skip
        return [values.get(column, "") for column in HEADER]


def _whole(value: Decimal | None) -> str:
    return "" if value is None else str(value.quantize(Decimal(1), ROUND_HALF_UP))


def _text(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")  # 120, not 1.2E+2


@contextmanager
def teslafi_rows(path: Path, name: str, *, choices: ImportChoices, shape: FileShape | None = None):
    """(PlugTrack's columns, the sessions reconstructed with the line of their first poll, what was
    detected); a poll that cannot be read is that line's error."""
    shape = shape or shape_start(path, name, choices)  # (`shape`: found already, as in mapped_rows)
    with text_open(path, shape.encoding) as text:
        records = csv_records(text, name, delimiter=shape.delimiter)
        header = next(records, (0, None))[1] or []
        columns = _columns(header, name)
        numbers = [columns[column] for column in _NUMBERS if column in columns]
        values_scan(shape, scanned_rows(records, len(header), columns["date"], numbers), name, choices)
    detected = {
        "format": "teslafi", **shape.describe(), "mapping": "TeslaFi polls → sessions",
        "columns": {column: source for column, source in _SOURCES.items() if source.split()[-1] in columns},
        "ignored_columns": [], "money": "none in the file", "blank_odometer": "error",
    }  # fmt: skip
    with text_open(path, shape.encoding) as text:
        records = csv_records(text, name, delimiter=shape.delimiter)
        next(records, None)
        yield list(HEADER), _sessions(records, header, columns, shape), detected


def _columns(header: list[str], name: str) -> dict[str, int]:
    positions = {heading.strip().lower(): index for index, heading in enumerate(header)}
    missing = [column for column in TESLAFI_COLUMNS if column not in positions]
    if missing:
        raise CsvFileError(f"{name} is not a TeslaFi export: it has no {', '.join(missing)} column.")
    return {column: positions[column] for column in (*TESLAFI_COLUMNS, *_OPTIONAL) if column in positions}


def _sessions(records, header: list[str], columns: dict[str, int], shape) -> Iterator:
    current: _Session | None = None
    for line, cells in records:
        if problem := width_problem(cells, header):
            yield RowIssue(line, "", "", problem)
            continue
        try:
            poll = _poll(cells, columns, shape)
        except _BadPoll as bad:
            yield RowIssue(line, bad.column, bad.value, f"TeslaFi poll: {bad.column} is not {bad.expected}.")
            continue
        charging = poll["charging_state"] in _CHARGING
        energy = poll["charge_energy_added"]
        restarted = current and energy is not None and energy < current.energy - _ENERGY_NOISE
        if current and (restarted or not charging):
            if poll["charging_state"] in _CLOSING:
                current.add(poll)  # its final figures (not a "Disconnected" poll, maybe hours later)
            yield current.line, current.cells()
            current = None
        if charging:
            if current is None:
                zone = zoneinfo.ZoneInfo(shape.time_zone) if shape.time_zone else None
                date = date_iso(cells[columns["date"]].strip(), shape.date_order, zone)
                location = cells[columns["location"]].strip() if "location" in columns else ""
                current = _Session(line=line, date=date, started=poll["time"], location=location)
            current.add(poll)
    if current:
        yield current.line, current.cells()  # still charging at the file's end: what it had so far


class _BadPoll(Exception):
    def __init__(self, column: str, value: str, expected: str = "a number"):
        self.column, self.value, self.expected = column, value, expected


def _poll(cells: list[str], columns: dict[str, int], shape) -> dict:
    poll: dict = {"charging_state": cells[columns["charging_state"]].strip().lower()}
    for column in _NUMBERS:
        text = number_plain(cells[columns[column]].strip(), shape.decimal_comma) if column in columns else ""
        try:
            poll[column] = Decimal(text) if text else None
        except InvalidOperation:
            raise _BadPoll(column, cells[columns[column]]) from None
    present = cells[columns["fast_charger_present"]] if "fast_charger_present" in columns else ""
    poll["fast_charger_present"] = present.strip().lower() in _TRUE
    poll["time"] = _poll_time(cells[columns["date"]].strip(), shape.date_order)
    if poll["time"] is None:
        raise _BadPoll("Date", cells[columns["date"]], "a date and time (e.g. 2026-11-02 18:00:00)")
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

"""An owner's own CSV read through a mapping (mapping.py): a spreadsheet, evcc's export, or
any file the person mapped themselves. Its shape is detected first (shape.py: encoding,
delimiter, decimal mark, date order, and the questions it cannot answer), then each row becomes
PlugTrack's own cells, which go through the one import engine and its checks unchanged.

Nothing is invented: a value the file lacks stays blank, and a required one missing is that row's
error, unless the person chose a rule for it (a blank odometer); a value PlugTrack worked out (km
→ miles, another currency → pounds, money rounded to the penny, an odometer taken from the session
before) is said in the session's notes.
"""

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import islice
from pathlib import Path
from typing import IO

from cars_app.models import Car
from plugtrack_site.numbers import decimal_parsed

from ..choices import NO_COSTS, ImportChoices
from ..csv_format import HEADER, WIDTH_KIND, CsvFileError, csv_records, first_line, width_problem
from ..importer import RowIssue, RowLeftOut
from . import OpenedRows
from .mapping import ColumnMapping, odometer_missing, value_in_unit
from .odometer_history import OdometerHistory
from .presets import preset_mapping
from .shape import (
    ISO_DATE,
    SLASHED_DATE,
    ZONED_DATE_TIME,
    FileShape,
    ShapeQuestion,
    currency_marks,
    delimiter_detect,
    encoding_detect,
    scanned_rows,
    values_questions,
    values_scan,
)

NUMBER_COLUMNS = (
    "odometer", "charge_power_kw", "charge_delivered_kwh", "duration_mins", "cost_per_kwh", "total_cost_gbp",
    "soc_from", "soc_to", "ambient_temp_c",
)  # fmt: skip
MONEY_COLUMNS = {"cost_per_kwh": "price per kWh", "total_cost_gbp": "total cost"}  # (as a session's notes say them)
_UNIT_SAID = {"km": "km", "wh": "Wh", "hours": "hours", "hms": "1h23m", "pence": "pence"}  # in the report
MONEY_PLACES = {"cost_per_kwh": Decimal("0.0001"), "total_cost_gbp": Decimal("0.01")}  # as PlugTrack keeps them

# Units written in a cell, dropped. Not "p" (pence would need dividing, not dropping) nor € (never pounds):
# such a cell stays as it is and is that row's error, unless the mapping or the currency says what it is.
_UNITS = re.compile(r"\s*(?:kwh|kw|miles|mi|mins|min|°c|°|%|£)\s*$|^\s*£\s*", re.IGNORECASE)
_CURRENCY_MARK = re.compile(r"[€$£]|\b[A-Z]{3}\b", re.IGNORECASE)
_PENCE = re.compile(r"\s*p$")
# A number with thousands separators: groups of three digits ("1,234.5"; with a decimal comma "1.234,5").
_GROUPED_DECIMAL_POINT = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")
_GROUPED_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?")
_CLOCK_AFTER_DATE = re.compile(r"[T ](\d{1,2}):(\d{2})(?::(\d{2}))?")  # "2026-11-25 18:02:10" → 18:02:10
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_MILES = re.compile(r"[0-9]{1,9}")  # an odometer to take for another session (ASCII digits, not "٣٣")

# A mapping saved by the owner for a header, if any (mapping_profiles.mapping_profile_for_header).
SavedMapping = Callable[[list[str]], ColumnMapping | None]


class RowConverter:
    """A file row → PlugTrack's cells (in HEADER order, as its own CSV writes them), or the row's
    issue when it cannot be one. `blank_said`: how the notes say an odometer was not given."""

    blank_said = "odometer blank in the file"

    def __init__(self, shape: FileShape, mapping: ColumnMapping, columns: dict[str, int], choices: ImportChoices):
        self.shape, self.mapping, self.columns, self.choices = shape, mapping, columns, choices
        self.zone = zoneinfo.ZoneInfo(shape.time_zone) if shape.time_zone else None
        self.history: OdometerHistory | None = None  # the odometers known before each date, for the "previous" rule
        # Worked out once, not per row: each field's column (or fixed value) and unit.
        self.plan = [(column, columns.get(column), mapping.fixed.get(column, "")) for column in HEADER]
        self.units = {column: mapping.unit(column) for column in NUMBER_COLUMNS}
        self.money = choices.currency not in (None, "GBP")

    def __call__(self, line: int, cells: list[str]) -> list[str] | RowIssue:
        converted, derived, time = {}, [], ""
        for column, index, fixed in self.plan:
            text = cells[index].strip() if index is not None else fixed
            if column == "date":
                text, time = date_and_time(text, self.shape.date_order, self.zone)
            elif column in NUMBER_COLUMNS:
                text = self._number(column, text, derived) if text else text
            elif column == "charge_type":
                text = text.upper()
            converted[column] = text
        if not converted["odometer"] and (issue := self._blank_odometer(line, converted, time, derived)):
            return issue
        if derived:  # (a note then too long is the row's error, as any: never cut short silently)
            said = f"PlugTrack: {'; '.join(derived)}"
            converted["notes"] = f"{converted['notes']} · {said}" if converted["notes"] else said
        return [converted[column] for column in HEADER]

    def _number(self, column: str, text: str, derived: list[str]) -> str:
        unit = self.units[column]
        foreign = self.money and column in MONEY_COLUMNS
        if foreign and self.choices.currency == NO_COSTS:
            return ""
        if foreign:
            if currency_marks(text) - {self.choices.currency}:
                return text  # £12 or $12 in a file of euros: not converted at the euro's rate, the row's error
            text = _CURRENCY_MARK.sub("", text)
        if unit == "pence":
            text = _PENCE.sub("", text)
        # A duration such as "5h21m5.123s" is not a number to clean: its dot is not a thousands separator.
        plain = text if unit == "hms" else number_plain(text, self.shape.decimal_comma)
        value = value_in_unit(plain, unit)
        if column == "odometer" and unit == "km" and value != plain:
            derived.append(f"odometer {plain} km → {value} miles")
        if column in MONEY_COLUMNS and value:
            return self._pounds(column, value, derived)
        return value

    def _pounds(self, column: str, value: str, derived: list[str]) -> str:
        """Money as PlugTrack keeps it: pounds (at the rate given), to the penny (£/kWh to 4 places),
        rounded half to even; each change said ("total cost 2.7632 → £2.76")."""
        currency, rate = self.choices.currency, self.choices.rate if self.money else Decimal(1)
        if (amount := decimal_parsed(value)) is None:
            return value  # not a number: the row's error where it is checked
        pounds = (amount * rate).quantize(MONEY_PLACES[column], ROUND_HALF_EVEN)
        if self.money:
            derived.append(f"{MONEY_COLUMNS[column]} {value} {currency} → £{pounds:,} at {rate}")
        elif pounds != amount:
            derived.append(f"{MONEY_COLUMNS[column]} {value} → £{pounds:,}")
        return str(pounds)

    def dated_odometer(self, cells: list[str]) -> tuple[dt.date, str, int] | None:
        """A row's date, time ("" for none) and odometer in miles, when it has all of them (for the history)."""
        (_, date_index, date_fixed), (_, odometer_index, _) = self.plan[0], self.plan[1]  # (HEADER's first two)
        odometer = self._number("odometer", cells[odometer_index].strip(), []) if odometer_index is not None else ""
        day, time = date_and_time(
            cells[date_index].strip() if date_index is not None else date_fixed, self.shape.date_order, self.zone
        )
        if not _WHOLE_MILES.fullmatch(odometer) or not ISO_DAY.fullmatch(day):
            return None
        try:
            return dt.date.fromisoformat(day), time, int(odometer)
        except ValueError:  # 2026-02-30: that row's error, not an odometer to take
            return None

    def _odometer_previous(self, line: int, converted: dict, time: str, derived: list[str]) -> RowIssue | None:
        """The rule "previous" (odometer_history.py): this session's odometer, or the row's issue."""
        try:
            day = dt.date.fromisoformat(converted["date"])
        except ValueError:
            return None  # no date to look before: the date is this row's error
        kwh = decimal_parsed(converted["charge_delivered_kwh"])
        if kwh is not None and (earlier := self.history.blank_seen(day, kwh, line)):
            return RowIssue(
                line, "odometer", "", f"The odometer is blank, and line {earlier} has the same day and energy and no "
                "odometer either: the two cannot be told apart. Fill in the odometer of one of them.",
                "odometer blank, like another row's",
            )  # fmt: skip
        if kwh is not None and (odometer := self.history.stored_same(day, kwh)) is not None:
            converted["odometer"] = str(odometer)
            derived.append(f"{self.blank_said}: {odometer:,} mi, that of the stored session of the same day "
                           "and energy (imported before)")  # fmt: skip
            return None
        known = self.history.before(day, time)
        if known is None:
            return RowIssue(
                line, "odometer", "", "The odometer is blank, and no session dated before this one has one, in the "
                "file or stored. Enter an earlier session with its odometer first, or fill this one in.",
                "odometer blank, none before it",
            )  # fmt: skip
        converted["odometer"] = str(known.odometer)
        derived.append(
            f"{self.blank_said}: {known.odometer:,} mi taken from {known}, the latest before it "
            "(0 miles driven)"
        )
        return None

    def _blank_odometer(self, line: int, converted: dict, time: str, derived: list[str]) -> RowIssue | None:
        rule = self.choices.blank_odometer
        if rule == "skip":
            return RowLeftOut(line, "odometer", "", "Left out: its odometer is blank (the rule chosen: skip).",
                              "left out: odometer blank")  # fmt: skip
        if rule == "previous":
            return self._odometer_previous(line, converted, time, derived)
        return RowIssue(
            line, "odometer", "", "The odometer is blank (evcc leaves it blank when it could not read the car). Fill "
            "it in, or choose a rule for blank odometers: skip the row, or take the previous session's.",
            "odometer blank",
        )  # fmt: skip

    def _unit_said(self, column: str, heading: str) -> str:
        """ "Juice" in Wh → " (Wh)"; nothing for "Kilometerstand (km)", which says it."""
        unit = _UNIT_SAID.get(self.mapping.units.get(column, ""), "")
        return f" ({unit})" if unit and unit.lower() not in heading.lower() else ""

    def describe(self, header: list[str], ignored: list[str]) -> dict:
        """The mapping as the report shows it: field → "heading (unit)", and what was left out."""
        columns = {
            column: header[self.columns[column]].strip() + self._unit_said(column, header[self.columns[column]])
            for column in HEADER if column in self.columns
        }  # fmt: skip
        columns |= {column: f'"{value}" for every row' for column, value in self.mapping.fixed.items()}
        return {"mapping": self.mapping.name, "columns": columns, "ignored_columns": ignored,
                "money": self.choices.describe_money(), "blank_odometer": self.choices.blank_odometer}  # fmt: skip


def date_iso(text: str, order: str | None, zone: zoneinfo.ZoneInfo | None = None) -> str:
    """A date as YYYY-MM-DD: ISO (a time after it dropped: sessions are kept by local date; a
    date-time with a zone offset moved into `zone` first) or day/month/year or month/day/year as
    `order` says; anything else as it was (the row's error)."""
    return date_and_time(text, order, zone)[0]


def date_and_time(text: str, order: str | None, zone: zoneinfo.ZoneInfo | None = None) -> tuple[str, str]:
    """`date_iso`'s date, and the local time of day after it as "HH:MM:SS" ("" when it has none)."""
    if zone and ZONED_DATE_TIME.match(text):
        try:
            moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1)).astimezone(zone)
        except (ValueError, OverflowError):  # 2026-13-01T…, or out of the calendar once moved
            return text, ""
        return moment.date().isoformat(), f"{moment:%H:%M:%S}"
    clock = _CLOCK_AFTER_DATE.search(text)
    time = f"{int(clock[1]):02d}:{clock[2]}:{clock[3] or '00'}" if clock else ""
    if match := ISO_DATE.match(text):
        year, month, day = match.groups()
    elif (match := SLASHED_DATE.match(text)) and order in ("dmy", "mdy"):
        first, second, year = match.groups()
        day, month = (first, second) if order == "dmy" else (second, first)
        year = f"20{year}" if len(year) == 2 else year
    else:
        return text, ""
    return f"{year}-{int(month):02d}-{int(day):02d}", time


def number_plain(text: str, decimal_comma: bool) -> str:
    """ "1.234,5 kWh" (decimal comma) or "1,234.5" → "1234.5"; a unit or £ written in the cell dropped;
    a thousands separator out of place left as it is, for the row's error."""
    if text.isdigit():
        return text  # most cells: nothing to do
    text = _UNITS.sub("", text).replace("\u00a0", "").replace(" ", "")
    thousands, grouped = (".", _GROUPED_DECIMAL_COMMA) if decimal_comma else (",", _GROUPED_DECIMAL_POINT)
    if thousands in text and not grouped.fullmatch(text):
        return text  # "12,5" in a file of decimal points is no number: the row's error, never 125
    return text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")


@dataclass
class MappedRows:
    """An owner's CSV read through a mapping (a RowSource): PlugTrack's cells with their lines. The
    mapping is the person's (`choices.mapping`), else the one they saved for this header
    (`saved_mapping`), else the preset's (`preset`: "spreadsheet" or "evcc"). The file is read a row
    at a time: once to decide the shape (shape.values_scan), once more for the odometers known by
    date when a blank one takes the previous session's (with `car`'s stored sessions,
    odometer_history.py), once to import. `shape`: its encoding and delimiter, when found already
    (shape_start's pass over the bytes is not made twice). `questions` reads its first rows only, for
    what the check would ask, before it runs."""

    path: Path
    preset: str
    choices: ImportChoices
    saved_mapping: SavedMapping | None = None
    shape: FileShape | None = None
    car: Car | None = None

    @contextmanager
    def open(self, name: str) -> Iterator[OpenedRows]:
        path, choices = self.path, self.choices
        shape = self.shape or shape_start(path, name, choices)
        odometer_optional = choices.blank_odometer == "previous"
        with text_open(path, shape.encoding) as text:
            records = csv_records(text, name, delimiter=shape.delimiter)
            header = next(records, (0, None))[1] or []
            mapping, ignored = _mapping_for(header, name, self.preset, choices, self.saved_mapping)
            columns = mapping.indexes(header, name, odometer_optional=odometer_optional)
            # (evcc never says its costs' currency, whatever the mapping)
            values_scan(shape, _scanned(records, header, columns), name, choices,
                        costs_currency_unknown=self.preset == "evcc")  # fmt: skip
        converter = RowConverter(shape, mapping, columns, choices)  # (once the scan has decided the shape)
        detected = {"format": self.preset, **shape.describe(), **converter.describe(header, ignored)}
        if odometer_optional:
            converter.history = OdometerHistory(self.car)
        try:
            if converter.history:
                with text_open(path, shape.encoding) as text:
                    _odometers_known(csv_records(text, name, delimiter=shape.delimiter), len(header), converter)
            with text_open(path, shape.encoding) as text:
                records = csv_records(text, name, delimiter=shape.delimiter)
                next(records, None)  # the header
                rows = (_converted(line, cells, header, converter) for line, cells in records)
                yield OpenedRows(list(HEADER), rows, detected)
        finally:
            if converter.history:
                converter.history.close()

    def questions(self, name: str, *, rows: int) -> list[ShapeQuestion]:
        """What the check would ask, read from the file's first `rows` rows: every question of
        shape.values_questions, returned, not raised, and the rule for blank odometers when the mapping
        has no odometer column. Empty when the mapping cannot read the file (the check says why)."""
        shape = self.shape or shape_start(self.path, name, self.choices)
        with text_open(self.path, shape.encoding) as text:
            records = csv_records(text, name, delimiter=shape.delimiter)
            header = next(records, (0, None))[1] or []
            try:
                mapping, _ = _mapping_for(header, name, self.preset, self.choices, self.saved_mapping)
                columns = mapping.indexes(header, name, odometer_optional=True)
            except CsvFileError:
                return []
            questions = values_questions(
                shape, _scanned(islice(records, rows), header, columns, odometers=True), name, self.choices,
                costs_currency_unknown=self.preset == "evcc",
            )  # fmt: skip
        if "odometer" not in columns and self.choices.blank_odometer != "previous":
            questions.append(ShapeQuestion(*odometer_missing(name), kind="blank_odometer"))
        return questions


def _scanned(records, header: list[str], columns: dict[str, int], *, odometers: bool = False):
    """The records as shape.py scans them, through the mapping's columns (`odometers`: with the odometer's)."""
    numbers = [columns[column] for column in NUMBER_COLUMNS if column in columns]
    costs = [columns[column] for column in MONEY_COLUMNS if column in columns]
    odometer = columns.get("odometer") if odometers else None
    return scanned_rows(records, len(header), columns.get("date"), numbers, costs, odometer)


def _odometers_known(records: Iterator[tuple[int, list[str]]], width: int, converter: RowConverter) -> None:
    """Every row's odometer by its date, into the converter's history (the header skipped)."""
    next(records, None)
    for line, cells in records:
        if len(cells) == width and (known := converter.dated_odometer(cells)):
            converter.history.add(*known, line)
    converter.history.indexed()


def _mapping_for(header, name, preset, choices: ImportChoices, saved_mapping) -> tuple[ColumnMapping, list[str]]:
    mapping = choices.mapping or (saved_mapping(header) if saved_mapping else None)
    if mapping is None:
        return preset_mapping(preset, header, name, odometer_optional=choices.blank_odometer == "previous")
    used = {heading.strip().lower() for heading in mapping.headings.values()}  # (as indexes() matches them)
    return mapping, [heading.strip() for heading in header if heading.strip() and heading.strip().lower() not in used]


def _converted(line: int, cells: list[str], header: list[str], converter: RowConverter):
    """A row as PlugTrack's cells, or refused when its cells do not match the file's own header (a
    value with the delimiter in it, unquoted, shifts every column after it)."""
    if problem := width_problem(cells, header):
        return RowIssue(line, "", "", problem, WIDTH_KIND)
    converted = converter(line, cells)
    return converted if isinstance(converted, RowIssue) else (line, converted)


def shape_start(path: Path, name: str, choices: ImportChoices) -> FileShape:
    """The file's encoding and delimiter, from its bytes and its first line."""
    shape = FileShape(encoding=encoding_detect(path, name, choices.encoding), delimiter=",")
    with text_open(path, shape.encoding) as text:
        shape.delimiter = delimiter_detect(first_line(text, name), name)
    return shape


@contextmanager
def text_open(path: Path, encoding: str) -> Iterator[IO[str]]:
    # utf-8-sig drops a byte-order mark; newline="" keeps line breaks inside quoted cells.
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as handle:
        yield handle

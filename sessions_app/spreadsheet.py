"""The "spreadsheet" format: PlugTrack's columns under the headings people write (Date, Mileage,
kWh, Cost, Location, ...), in any order, in any of the shapes file_shape detects (semicolons, a
decimal comma, day-first dates, units inside cells). Each row becomes PlugTrack's own cells, which
then go through the one import engine and its checks unchanged; nothing is invented: a value the
file lacks stays blank, and a required one missing is that row's error.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .csv_format import HEADER, CsvFileError, csv_records, first_line, width_problem
from .file_shape import FileShape, delimiter_detect, encoding_detect, values_scan
from .importer import RowIssue

# Headings as people write them, in English and German (compared without case, brackets or punctuation).
HEADINGS = {
    "date": ("date", "day", "charge date", "session date", "datum"),
    "odometer": ("odometer", "odometer miles", "mileage", "miles", "odo", "odometer reading"),
    "charge_type": ("charge type", "type", "ac dc", "acdc", "charger type", "typ", "ladeart"),
    "charge_power_kw": ("power", "power kw", "kw", "charge power", "charging power", "charger kw"),
    "location_label": ("location", "place", "where", "site", "charger location", "ort", "standort", "ladepunkt"),
    "charge_network": ("network", "provider", "operator", "charge network", "charging network", "netzwerk", "anbieter"),
    "charge_delivered_kwh": (
        "kwh",
        "energy",
        "energy kwh",
        "kwh added",
        "kwh charged",
        "charged kwh",
        "units",
        "energie",
        "energie kwh",
    ),
    "duration_mins": ("duration", "duration mins", "duration min", "minutes", "mins", "charge time", "dauer min"),
    "cost_per_kwh": (
        "price",
        "price per kwh",
        "cost per kwh",
        "rate",
        "tariff",
        "per kwh",
        "preis kwh",
        "preis pro kwh",
    ),
    "total_cost_gbp": ("cost", "total cost", "total", "cost gbp", "amount", "paid", "preis", "kosten"),
    "soc_from": ("soc from", "start soc", "soc start", "soc from %", "start %"),
    "soc_to": ("soc to", "end soc", "soc end", "soc to %", "end %"),
    "ambient_temp_c": ("temperature", "temp", "ambient", "outside temp", "ambient temperature", "temperatur"),
    "notes": ("notes", "note", "comment", "comments", "remarks", "notizen", "bemerkung"),
}
_BY_HEADING = {heading: column for column, headings in HEADINGS.items() for heading in headings}
NUMBER_COLUMNS = (
    "odometer", "charge_power_kw", "charge_delivered_kwh", "duration_mins", "cost_per_kwh", "total_cost_gbp",
    "soc_from", "soc_to", "ambient_temp_c",
)  # fmt: skip
REQUIRED = ("date", "odometer", "charge_delivered_kwh")

# Units written in a cell, dropped. Not "p" (pence would need dividing, not dropping) nor € (never pounds):
# such a cell stays as it is and is that row's error.
_UNITS = re.compile(r"\s*(?:kwh|kw|miles|mi|mins|min|°c|°|%|£)\s*$|^\s*£\s*", re.IGNORECASE)


def heading_key(text: str) -> str:
    """ "Odometer (miles)" → "odometer miles"; "Energy [kWh]" → "energy kwh"; "AC/DC" → "ac dc"."""
    return " ".join(re.sub(r"[^\w%]+", " ", text.lower()).split())


def columns_map(header: list[str], name: str) -> tuple[dict[str, int], list[str]]:
    """PlugTrack column → its index in the file, and the headings left out (not PlugTrack's)."""
    found: dict[str, int] = {}
    ignored = []
    for index, heading in enumerate(header):
        key = heading_key(heading)
        if key.startswith("kilometerstand") or (
            "km" in key.split() and _BY_HEADING.get(" ".join(w for w in key.split() if w != "km")) == "odometer"
        ):
            raise CsvFileError(f'{name}: the odometer column "{heading.strip()}" is in km; PlugTrack needs miles.')
        column = _BY_HEADING.get(key) or (key.replace(" ", "_") if key.replace(" ", "_") in HEADER else None)
        if column is None:
            if heading.strip():
                ignored.append(heading.strip())
            continue
        if column in found:
            raise CsvFileError(
                f'{name}: two columns mean {column}: "{header[found[column]].strip()}" and "{heading.strip()}". '
                "Remove or rename one of them."
            )
        found[column] = index
    missing = [column for column in REQUIRED if column not in found]
    if missing:
        accepted = "; ".join(f"{column}: {', '.join(HEADINGS[column][:4])}" for column in missing)
        raise CsvFileError(
            f"{name}: no column for {', '.join(missing)}. Headings understood ({accepted}); the file's headings: "
            f"{', '.join(repr(heading.strip()) for heading in header[:20])}."
        )
    return found, ignored


class RowConverter:
    """A file row → PlugTrack's cells (in HEADER order, as its own CSV writes them)."""

    def __init__(self, shape: FileShape, columns: dict[str, int]):
        self.shape, self.columns = shape, columns

    def __call__(self, cells: list[str]) -> list[str]:
        converted = []
        for column in HEADER:
            index = self.columns.get(column)
            text = cells[index].strip() if index is not None else ""
            if column == "date":
                text = date_iso(text, self.shape.date_order)
            elif column in NUMBER_COLUMNS:
                text = number_plain(text, self.shape.decimal_comma)
            elif column == "charge_type":
                text = text.upper()
            converted.append(text)
        return converted

    def values_for_scan(
        self, records: Iterator[tuple[int, list[str]]], width: int
    ) -> Iterator[tuple[int, str, list[str]]]:
        """(line, date text, number texts) of each row as wide as the header (another is refused
        later, and its shifted cells prove nothing), for file_shape.values_scan."""
        number_indexes = [self.columns[column] for column in NUMBER_COLUMNS if column in self.columns]
        date_index = self.columns["date"]
        for line, cells in records:
            if len(cells) == width:
                yield line, cells[date_index], [cells[index] for index in number_indexes]


_SLASHED = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?!\d)")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")


def date_iso(text: str, order: str | None) -> str:
    """A date as YYYY-MM-DD: ISO (a time after it is dropped: sessions are kept by local date) or
    day/month/year or month/day/year as `order` says; anything else as it was (the row's error)."""
    if match := _ISO.match(text):
        year, month, day = match.groups()
    elif (match := _SLASHED.match(text)) and order in ("dmy", "mdy"):
        first, second, year = match.groups()
        day, month = (first, second) if order == "dmy" else (second, first)
        year = f"20{year}" if len(year) == 2 else year
    else:
        return text
    return f"{year}-{int(month):02d}-{int(day):02d}"


def number_plain(text: str, decimal_comma: bool) -> str:
    """ "1.234,5 kWh" (decimal comma) or "1,234.5" → "1234.5"; a unit or £ written in the cell dropped."""
    text = _UNITS.sub("", text).replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        return text.replace(".", "").replace(",", ".")
    return text.replace(",", "")


@contextmanager
def spreadsheet_rows(
    path: Path, name: str, *, date_order: str | None = None, encoding: str | None = None
) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]], dict]]:
    """Open an owner's spreadsheet CSV: (PlugTrack's columns, its rows as PlugTrack's cells with
    their lines, what was detected). The file is read twice, a row at a time: once to decide the
    decimal mark and the date order (file_shape.values_scan), once to import."""
    shape = FileShape(encoding=encoding_detect(path, name, encoding), delimiter=",")
    with _text(path, shape.encoding) as text:
        shape.delimiter = delimiter_detect(first_line(text, name), name)
    with _text(path, shape.encoding) as text:
        records = csv_records(text, name, delimiter=shape.delimiter)
        header = next(records, (0, None))[1] or []
        columns, ignored = columns_map(header, name)
        converter = RowConverter(shape, columns)
        values_scan(shape, converter.values_for_scan(records, len(header)), name, date_order)
    detected = {"format": "spreadsheet", **shape.describe(), "columns": {column: header[index].strip()
                for column, index in columns.items()}, "ignored_columns": ignored}  # fmt: skip
    with _text(path, shape.encoding) as text:
        records = csv_records(text, name, delimiter=shape.delimiter)
        next(records, None)  # the header
        yield list(HEADER), (_converted(line, cells, header, converter) for line, cells in records), detected


def _converted(line: int, cells: list[str], header: list[str], converter: "RowConverter"):
    """A row as PlugTrack's cells, or refused when its cells do not match the file's own header (a
    value with the delimiter in it, unquoted, shifts every column after it)."""
    if problem := width_problem(cells, header):
        return RowIssue(line, "", "", problem)
    return line, converter(cells)


@contextmanager
def _text(path: Path, encoding: str) -> Iterator[IO[str]]:
    # utf-8-sig drops a byte-order mark; newline="" keeps line breaks inside quoted cells.
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as handle:
        yield handle

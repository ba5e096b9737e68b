"""Which column of an owner's file feeds which PlugTrack field, and in which unit: a mapping. A
preset (presets.py) makes one from the file's headings; the person may give their own, saved as a
named profile (mapping_profiles.py) and written as JSON:

    {"plugtrack_mapping": 1, "name": "evcc garage",
     "columns": {"date": "Startzeit", "odometer": {"heading": "Kilometerstand (km)", "unit": "km"},
                 "charge_type": {"value": "AC"}, ...}}

(a field with a "value" has no column: every row has that value, e.g. AC at a home wallbox.)

This module also turns one cell in a unit into PlugTrack's own text for the field (km → miles,
Wh → kWh, "5h21m5s" or seconds → minutes, pence → pounds); the file's number format is already
plain by then.
"""

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from plugtrack_site.errors import excerpt
from plugtrack_site.numbers import decimal_parsed, decimal_text

from ...models import SESSION_FIELD_LABELS
from ..asks import BLANK_ODOMETER_PREVIOUS, MAPPING
from ..csv_format import HEADER, CsvFileError
from .mapping_json import MAX_HEADING_CHARS, mapping_data_check

MAPPING_VERSION = 1

# The units a field may come in; the first is PlugTrack's own.
UNITS = {
    "odometer": ("miles", "km"),
    "charge_delivered_kwh": ("kwh", "wh"),
    "duration_mins": ("minutes", "hours", "hms", "seconds"),
    "cost_per_kwh": ("pounds", "pence"),
}
UNIT_NAMES = {
    "miles": "miles", "km": "km", "kwh": "kWh", "wh": "Wh", "minutes": "minutes", "hours": "hours",
    "hms": 'hours and minutes ("1h23m", "5h21m5s", "1:23")', "seconds": "seconds", "pounds": "pounds",
    "pence": "pence",
}  # fmt: skip
KM_PER_MILE = Decimal("1.609344")
REQUIRED = ("date", "odometer", "charge_delivered_kwh")


@dataclass
class ColumnMapping:
    """PlugTrack field → the file's heading, and the unit of the fields not in PlugTrack's own."""

    headings: dict[str, str]
    units: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)  # field → the value of every row (no column)
    name: str = ""

    def __post_init__(self):
        for column, unit in self.units.items():
            if unit not in UNITS.get(column, ()):
                choices = ", ".join(UNITS.get(column, ())) or "none: it has PlugTrack's unit only"
                raise CsvFileError(
                    f'The mapping gives {excerpt(column)} the unit "{excerpt(unit)}"; its units are: {choices}.'
                )
        unknown = [column for column in [*self.headings, *self.fixed] if column not in HEADER]
        if unknown:
            named = ", ".join(excerpt(column) for column in unknown[:5])
            raise CsvFileError(f"The mapping names fields PlugTrack does not have: {named}.")

    def unit(self, column: str) -> str:
        return self.units.get(column) or UNITS.get(column, ("",))[0]

    def indexes(self, header: list[str], name: str, *, odometer_optional: bool = False) -> dict[str, int]:
        """Field → its column's index in `header` (headings compared without case or outer spaces); a
        heading the mapping reads that the file has twice is refused. `odometer_optional`: the person
        chose to take each session's odometer from the one before it, so the file may have none."""
        positions: dict[str, int] = {}
        repeated = set()
        for index, heading in enumerate(header):
            key = heading.strip().lower()  # as a saved mapping is offered: case aside
            if key in positions:
                repeated.add(key)
            positions.setdefault(key, index)
        missing = [heading for heading in self.headings.values() if heading.lower() not in positions]
        if missing:
            raise CsvFileError(
                f"{name} has no column {', '.join(repr(heading) for heading in missing)}, which the mapping"
                f"{f' {self.name!r}' if self.name else ''} reads. Its headings: "
                f"{', '.join(repr(heading.strip()) for heading in header[:20])}."
            )
        twice = [heading for heading in self.headings.values() if heading.lower() in repeated]
        if twice:
            raise CsvFileError(
                f"{name} has more than one column {twice[0]!r}: rename one, so that it is clear which is meant."
            )
        absent = [column for column in REQUIRED if column not in self.headings and column not in self.fixed]
        if "odometer" in absent and not odometer_optional:
            raise CsvFileError(*odometer_missing(name))
        if absent := [column for column in absent if column != "odometer"]:
            said = " and the ".join(SESSION_FIELD_LABELS[column] for column in absent)
            raise CsvFileError(f"{name}: no column is chosen for the {said}, which every session needs.")
        return {column: positions[heading.lower()] for column, heading in self.headings.items()}

    def to_json(self) -> dict:
        columns = {
            column: {"heading": heading, "unit": self.units[column]} if column in self.units else heading
            for column, heading in self.headings.items()
        } | {column: {"value": value} for column, value in self.fixed.items()}
        return {"plugtrack_mapping": MAPPING_VERSION, "name": self.name, "columns": columns}

    @classmethod
    def from_json(cls, data, source: str = "The mapping") -> "ColumnMapping":
        """A mapping from its JSON (as to_json writes it); anything else is refused with what is wrong,
        within the bounds any mapping's JSON keeps (mapping_data_check), however it came."""
        mapping_data_check(data, source)
        if not isinstance(data, dict) or data.get("plugtrack_mapping") != MAPPING_VERSION:
            raise CsvFileError(f'{source} is not a PlugTrack mapping: it needs "plugtrack_mapping": {MAPPING_VERSION}.')
        columns = data.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise CsvFileError(f'{source}: "columns" must map PlugTrack fields to headings, e.g. {{"date": "Date"}}.')
        if len(columns) > len(HEADER):
            raise CsvFileError(
                f'{source}: "columns" has {len(columns):,} entries; PlugTrack has {len(HEADER)} fields, a column each.'
            )
        headings, units, fixed = {}, {}, {}
        for column, value in columns.items():
            if isinstance(value, dict) and "value" in value:
                if not isinstance(value["value"], str | int | float) or isinstance(value["value"], bool):
                    shown = excerpt(repr(value["value"]))
                    raise CsvFileError(f"{source}: the value for {column} must be text or a number, not {shown}.")
                fixed[column] = str(value["value"]).strip()
                continue
            if isinstance(value, dict):
                heading, unit = value.get("heading"), value.get("unit")
                if unit:
                    units[column] = str(unit)
            else:
                heading = value
            if not isinstance(heading, str) or not heading.strip():
                raise CsvFileError(
                    f"{source}: the column for {column} must be a heading (text), not {excerpt(repr(heading))}."
                )
            if len(heading.strip()) > MAX_HEADING_CHARS:
                raise CsvFileError(
                    f"{source}: the heading for {column} is {len(heading.strip()):,} characters long; a file's heading "
                    f"is at most {MAX_HEADING_CHARS}."
                )
            headings[column] = heading.strip()
        name = data.get("name") or ""
        return cls(headings=headings, units=units, fixed=fixed, name=str(name)[:80])


def odometer_missing(name: str) -> tuple:
    """Why a file needs an odometer, and what to do when it has none (Tesla's charging report, a wallbox's
    log): a message's parts, for CsvFileError(*parts) or ShapeQuestion(*parts)."""
    return (
        f"{name} has no column for the odometer. PlugTrack needs each session's odometer: the miles between two "
        "charges give the car's efficiency and cost per mile, and the date, odometer and energy together tell one "
        "session from another, so that a file imported twice adds nothing twice. Choose the column that holds it (",
        MAPPING, "); or, if the file has none, choose the rule for blank odometers \"take the previous session's\" (",
        BLANK_ODOMETER_PREVIOUS, "): each session then takes the last odometer known before it, 0 miles driven, said "
        "in its notes.",
    )  # fmt: skip


_CONVERTED = ("km", "wh", "hours", "hms", "seconds", "pence")  # the units not PlugTrack's own
# Go's durations as evcc writes them ("5h21m5s", "5h21m5.123s"), "1h23min", "45m"; and clocks ("1:23:45").
# (hours and seconds of at most 9 digits: longer is no charge, and int() refuses 4,300 digits)
_HMS = re.compile(r"^(?:(\d{1,9})\s*h)?\s*(?:(\d{1,9})\s*m(?:in)?)?\s*(?:(\d{1,9})(?:[.,]\d+)?\s*s)?$", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{1,9}):(\d{1,2})(?::(\d{1,2})(?:[.,]\d+)?)?$")


def value_in_unit(text: str, unit: str) -> str:
    """A plain cell of `unit` as PlugTrack's text for its field; a cell that is not a value of the
    unit stays as it was, to be that row's error where it is checked."""
    if not text or unit not in _CONVERTED:
        return text
    if unit == "hms":
        minutes = _hms_minutes(text)
        return text if minutes is None else str(minutes)
    number = decimal_parsed(text)
    if number is None:
        return text
    if unit == "km":
        return str((number / KM_PER_MILE).quantize(Decimal(1), ROUND_HALF_UP))
    if unit == "wh":  # to the Wh, as PlugTrack keeps kWh (3 places); 1000 Wh → "1", not "1E+0"
        return decimal_text((number / 1000).quantize(Decimal("0.001"), ROUND_HALF_UP))
    if unit == "hours":
        return str((number * 60).quantize(Decimal(1), ROUND_HALF_UP))
    if unit == "seconds":
        return str((number / 60).quantize(Decimal(1), ROUND_HALF_UP))
    # pence → £/kWh exactly: rounded to the 4 places kept where money is, and said (mapped.RowConverter)
    return format(number / 100, "f")


def _hms_minutes(text: str) -> int | None:
    """ "5h21m5s", "1h23m", "45m", "1:23", "1:23:45" → whole minutes (seconds rounded)."""
    text = text.strip()
    if (match := _HMS.match(text)) and any(match.groups()) or (match := _CLOCK.match(text)):
        hours, minutes, seconds = (int(part or 0) for part in match.groups())
    else:
        return None
    return int((Decimal(hours * 3600 + minutes * 60 + seconds) / 60).quantize(Decimal(1), ROUND_HALF_UP))

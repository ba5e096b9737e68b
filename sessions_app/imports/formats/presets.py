"""The presets an owner's file may be read with, and the mapping (mapping.py) each makes of a header:
"spreadsheet" (spreadsheet.py's headings) and "evcc" (evcc.py's), both read by mapped.py; "teslafi"
(teslafi.py), whose polls are rebuilt into sessions and need no mapping. Headings are compared
without case, brackets or punctuation ("Energy [kWh]" is "energy kwh").
"""

import re

from ..asks import MAPPING
from ..csv_format import CsvFileError
from .evcc import EVCC_HEADINGS, evcc_column
from .mapping import REQUIRED, ColumnMapping, odometer_missing
from .spreadsheet import SPREADSHEET_HEADINGS, START_HEADINGS, spreadsheet_column

PRESETS = ("spreadsheet", "evcc", "teslafi")
_EVCC_BY_COLUMN = {column: [key for key, (field, _) in EVCC_HEADINGS.items() if field == column] for column in REQUIRED}


def heading_key(text: str) -> str:
    """ "Odometer (miles)" → "odometer miles"; "Energy [kWh]" → "energy kwh"; "AC/DC" → "ac dc";
    "energy_kwh" → "energy kwh"; "ChargeStartDateTime" → "charge start date time"."""
    words = re.sub(r"(?<=[a-z]{2})(?=[A-Z][a-z])", " ", text)  # camelCase, not "kWh" or "SoC"
    return " ".join(re.sub(r"[^\w%]+|_", " ", words.lower()).split())


def preset_mapping(
    preset: str, header: list[str], name: str, *, complete: bool = True, odometer_optional: bool = False
) -> tuple[ColumnMapping, list[str]]:
    """The mapping `preset` makes of `header`, and the headings it leaves out. `complete=False`:
    what it can make of it (a proposal for the person to finish), never refused. `odometer_optional`:
    the person chose to take each odometer from the session before (ColumnMapping.indexes)."""
    found: dict[str, tuple[int, str]] = {}  # field → (index, unit)
    ignored = []  # (index, heading)
    fallback_date = None  # a start time's index: the date when no heading says "date" itself
    for index, heading in enumerate(header):
        column, unit = _column_of(preset, heading_key(heading))
        if column is None and preset != "evcc" and heading_key(heading) in START_HEADINGS and fallback_date is None:
            fallback_date = index
            continue
        if column is None:
            if heading.strip():
                ignored.append((index, heading.strip()))
            continue
        if column in found and not complete:
            ignored.append((index, heading.strip()))
            continue
        if column in found:
            raise CsvFileError(
                f'{name}: two columns mean {column}: "{header[found[column][0]].strip()}" and "{heading.strip()}". '
                "Remove or rename one of them, or give a mapping (", MAPPING, ").",
            )  # fmt: skip
        found[column] = (index, unit)
    if fallback_date is not None:
        if "date" in found:
            ignored.append((fallback_date, header[fallback_date].strip()))
        else:
            found["date"] = (fallback_date, "")
    if complete:
        _required_check(preset, header, name, found, odometer_optional)
    headings = {column: header[index].strip() for column, (index, _) in found.items()}
    own = all(heading.lower() == column for column, heading in headings.items())  # PlugTrack's own, resaved
    mapping = ColumnMapping(
        headings=headings,
        units={column: unit for column, (_, unit) in found.items() if unit},
        fixed={"charge_type": "AC"} if preset == "evcc" else {},
        name="PlugTrack's own columns" if own else f"{preset} preset",
    )
    return mapping, [heading for _, heading in sorted(ignored)]


def _required_check(preset: str, header: list[str], name: str, found: dict, odometer_optional: bool) -> None:
    """Refuse a header that gives no column for a field every session needs, saying the headings understood."""
    missing = [column for column in REQUIRED if column not in found]
    if missing == ["odometer"] and not odometer_optional:
        raise CsvFileError(*odometer_missing(name))
    missing = [column for column in missing if column != "odometer" or not odometer_optional]
    if missing:
        understood = _EVCC_BY_COLUMN if preset == "evcc" else SPREADSHEET_HEADINGS
        accepted = "; ".join(f"{column}: {', '.join(understood[column][:4])}" for column in missing)
        raise CsvFileError(
            f"{name}: no column for {', '.join(missing)}. Headings understood ({accepted}); the file's headings: "
            f"{', '.join(repr(heading.strip()) for heading in header[:20])}. Rename the column, or give a "
            "mapping (", MAPPING, ").",
        )  # fmt: skip


def _column_of(preset: str, key: str) -> tuple[str | None, str]:
    return evcc_column(key) if preset == "evcc" else spreadsheet_column(key)

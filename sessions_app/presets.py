"""The presets: which file a header is, and the mapping (column_mapping.py) each preset makes of it.

- "spreadsheet": PlugTrack's columns under the headings people write (Date, Mileage, kWh, Cost,
  Location, ...), in English or German, in any order; "Odometer (km)" is read as km.
- "evcc": evcc's sessions CSV (Sessions → Download CSV), in English or German headings; its
  odometer is in km, its durations like "5h21m5s"; its prices are in the currency evcc is set to,
  so they need --currency. evcc runs AC wallboxes: every session is AC, said in the report.
- "teslafi": TeslaFi's data export, one row per poll: sessions are reconstructed (teslafi.py).
Headings are compared without case, brackets or punctuation ("Energy [kWh]" is "energy kwh").
"""

import re

from .column_mapping import REQUIRED, ColumnMapping, odometer_missing
from .csv_format import HEADER, CsvFileError

SPREADSHEET_HEADINGS = {
    # (not "start time": a file may have it beside its date, and two date columns are refused)
    "date": ("date", "day", "charge date", "session date", "datum", "started at", "charge start date time",
             "session start"),
    "odometer": ("odometer", "odometer miles", "mileage", "miles", "odo", "odometer reading", "odometer mi"),
    "charge_type": ("charge type", "type", "ac dc", "acdc", "charger type", "typ", "ladeart", "charging type"),
    "charge_power_kw": ("power", "power kw", "kw", "charge power", "charging power", "charger kw", "max power kw"),
    "location_label": ("location", "place", "where", "site", "charger location", "ort", "standort", "ladepunkt",
                       "location name", "site location name", "charger", "charger name"),
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
        "energy added",
        "energy added kwh",
        "energy delivered",
        "energy delivered kwh",
        "kwh delivered",
    ),  # fmt: skip
    "duration_mins": ("duration", "duration mins", "duration min", "duration minutes", "minutes", "mins",
                      "charge time", "dauer min"),
    "cost_per_kwh": (
        "price",
        "price per kwh",
        "cost per kwh",
        "rate",
        "tariff",
        "per kwh",
        "preis kwh",
        "preis pro kwh",
        "price kwh",
        "cost kwh",
    ),
    "total_cost_gbp": ("cost", "total cost", "total", "cost gbp", "amount", "paid", "preis", "kosten", "total cost gbp",
                       "cost total"),
    "soc_from": ("soc from", "start soc", "soc start", "soc from %", "start %", "starting soc", "start battery level"),
    "soc_to": ("soc to", "end soc", "soc end", "soc to %", "end %", "ending soc", "end battery level"),
    "ambient_temp_c": ("temperature", "temp", "ambient", "outside temp", "ambient temperature", "temperatur"),
    "notes": ("notes", "note", "comment", "comments", "remarks", "notizen", "bemerkung"),
}
_SPREADSHEET_BY_HEADING = {heading: column for column, headings in SPREADSHEET_HEADINGS.items() for heading in headings}
# An odometer heading naming km: "Odometer (km)", "Mileage km", "Kilometerstand".
_KM_ODOMETER = ("odometer km", "mileage km", "odo km", "odometer reading km", "kilometerstand", "kilometerstand km")
# A start's heading: the session's date when the file has no column named for the date itself (a file
# may have both "Date" and "Start time", the time of day).
_START_HEADINGS = ("start time", "start date", "started", "start", "start date time", "charge start", "begin")
# A duration heading naming another unit than minutes: "Duration (s)", "duration_seconds", "Duration (hours)".
_DURATION_UNITS = {
    "duration s": "seconds", "duration sec": "seconds", "duration secs": "seconds", "duration seconds": "seconds",
    "seconds": "seconds", "duration h": "hours", "duration hours": "hours", "hours": "hours",
}  # fmt: skip

# evcc's CSV headings (English and German, as its translations write them) → (field, unit).
EVCC_HEADINGS = {
    "start time": ("date", ""), "created": ("date", ""), "startzeit": ("date", ""),
    "charging point": ("location_label", ""), "loadpoint": ("location_label", ""), "ladepunkt": ("location_label", ""),
    "mileage km": ("odometer", "km"), "odometer km": ("odometer", "km"), "kilometerstand km": ("odometer", "km"),
    "energy kwh": ("charge_delivered_kwh", ""), "charged energy kwh": ("charge_delivered_kwh", ""),
    "energie kwh": ("charge_delivered_kwh", ""),
    "duration": ("duration_mins", "hms"), "charging duration": ("duration_mins", "hms"),
    "charge duration": ("duration_mins", "hms"), "ladedauer": ("duration_mins", "hms"),
    "price": ("total_cost_gbp", ""), "preis": ("total_cost_gbp", ""),
    "price kwh": ("cost_per_kwh", ""), "preis kwh": ("cost_per_kwh", ""),
}  # fmt: skip
_EVCC_BY_COLUMN = {column: [key for key, (field, _) in EVCC_HEADINGS.items() if field == column] for column in REQUIRED}
# Headings only evcc writes: three of them make a file evcc's.
_EVCC_ONLY = {
    "startzeit", "endzeit", "ladepunkt", "kennung", "fahrzeug", "ladedauer", "sonne %", "start time", "end time",
    "charging point", "loadpoint", "identifier", "solar %", "meter start kwh", "meter stop kwh",
    "zählerstand start kwh", "zählerstand ende kwh",
}  # fmt: skip
# TeslaFi's poll columns that make a file TeslaFi's.
TESLAFI_COLUMNS = ("date", "charging_state", "charge_energy_added", "battery_level", "odometer")

PRESETS = ("spreadsheet", "evcc", "teslafi")


def heading_key(text: str) -> str:
    """ "Odometer (miles)" → "odometer miles"; "Energy [kWh]" → "energy kwh"; "AC/DC" → "ac dc";
    "energy_kwh" → "energy kwh"; "ChargeStartDateTime" → "charge start date time"."""
    words = re.sub(r"(?<=[a-z]{2})(?=[A-Z][a-z])", " ", text)  # camelCase, not "kWh" or "SoC"
    return " ".join(re.sub(r"[^\w%]+|_", " ", words.lower()).split())


def preset_detect(header: list[str]) -> str:
    """The preset a header (not PlugTrack's own) is: evcc's or TeslaFi's by their own headings, else a spreadsheet."""
    keys = {heading_key(heading) for heading in header}
    if all(column in {heading.strip().lower() for heading in header} for column in TESLAFI_COLUMNS):
        return "teslafi"
    if len(keys & _EVCC_ONLY) >= 3:
        return "evcc"
    return "spreadsheet"


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
        if column is None and preset != "evcc" and heading_key(heading) in _START_HEADINGS and fallback_date is None:
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
                "Remove or rename one of them, or give a mapping (--mapping)."
            )
        found[column] = (index, unit)
    if fallback_date is not None:
        if "date" in found:
            ignored.append((fallback_date, header[fallback_date].strip()))
        else:
            found["date"] = (fallback_date, "")
    missing = [column for column in REQUIRED if column not in found]
    if missing == ["odometer"] and complete and not odometer_optional:
        raise CsvFileError(odometer_missing(name))
    missing = [column for column in missing if column != "odometer" or not odometer_optional]
    if missing and complete:
        understood = _EVCC_BY_COLUMN if preset == "evcc" else SPREADSHEET_HEADINGS
        accepted = "; ".join(f"{column}: {', '.join(understood[column][:4])}" for column in missing)
        raise CsvFileError(
            f"{name}: no column for {', '.join(missing)}. Headings understood ({accepted}); the file's headings: "
            f"{', '.join(repr(heading.strip()) for heading in header[:20])}. Rename the column, or give a "
            "mapping (--mapping)."
        )
    headings = {column: header[index].strip() for column, (index, _) in found.items()}
    own = all(heading.lower() == column for column, heading in headings.items())  # PlugTrack's own, resaved
    mapping = ColumnMapping(
        headings=headings,
        units={column: unit for column, (_, unit) in found.items() if unit},
        fixed={"charge_type": "AC"} if preset == "evcc" else {},
        name="PlugTrack's own columns" if own else f"{preset} preset",
    )
    return mapping, [heading for _, heading in sorted(ignored)]


def _column_of(preset: str, key: str) -> tuple[str | None, str]:
    if preset == "evcc":
        return EVCC_HEADINGS.get(key, (None, ""))
    if key in _KM_ODOMETER:
        return "odometer", "km"
    if key in _DURATION_UNITS:
        return "duration_mins", _DURATION_UNITS[key]
    if column := _SPREADSHEET_BY_HEADING.get(key):
        return column, ""
    underscored = key.replace(" ", "_")
    return (underscored if underscored in HEADER else None), ""

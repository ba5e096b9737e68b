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

from .column_mapping import REQUIRED, ColumnMapping
from .csv_format import HEADER, CsvFileError

SPREADSHEET_HEADINGS = {
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
    ),  # fmt: skip
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
_SPREADSHEET_BY_HEADING = {heading: column for column, headings in SPREADSHEET_HEADINGS.items() for heading in headings}
# An odometer heading naming km: "Odometer (km)", "Mileage km", "Kilometerstand".
_KM_ODOMETER = ("odometer km", "mileage km", "odo km", "odometer reading km", "kilometerstand", "kilometerstand km")

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
    """ "Odometer (miles)" → "odometer miles"; "Energy [kWh]" → "energy kwh"; "AC/DC" → "ac dc"."""
    return " ".join(re.sub(r"[^\w%]+", " ", text.lower()).split())


def preset_detect(header: list[str]) -> str:
    """The preset a header (not PlugTrack's own) is: evcc's or TeslaFi's by their own headings, else a spreadsheet."""
    keys = {heading_key(heading) for heading in header}
    if all(column in {heading.strip().lower() for heading in header} for column in TESLAFI_COLUMNS):
        return "teslafi"
    if len(keys & _EVCC_ONLY) >= 3:
        return "evcc"
    return "spreadsheet"


def preset_mapping(
    preset: str, header: list[str], name: str, *, complete: bool = True
) -> tuple[ColumnMapping, list[str]]:
    """The mapping `preset` makes of `header`, and the headings it leaves out. `complete=False`:
    what it can make of it (a proposal for the person to finish), never refused."""
    found: dict[str, tuple[int, str]] = {}  # field → (index, unit)
    ignored = []
    for index, heading in enumerate(header):
        column, unit = _column_of(preset, heading_key(heading))
        if column is None:
            if heading.strip():
                ignored.append(heading.strip())
            continue
        if column in found and not complete:
            ignored.append(heading.strip())
            continue
        if column in found:
            raise CsvFileError(
                f'{name}: two columns mean {column}: "{header[found[column][0]].strip()}" and "{heading.strip()}". '
                "Remove or rename one of them, or give a mapping (--mapping)."
            )
        found[column] = (index, unit)
    missing = [column for column in REQUIRED if column not in found]
    if missing and complete:
        understood = _EVCC_BY_COLUMN if preset == "evcc" else SPREADSHEET_HEADINGS
        accepted = "; ".join(f"{column}: {', '.join(understood[column][:4])}" for column in missing)
        raise CsvFileError(
            f"{name}: no column for {', '.join(missing)}. Headings understood ({accepted}); the file's headings: "
            f"{', '.join(repr(heading.strip()) for heading in header[:20])}. Rename the column, or give a "
            "mapping (--mapping)."
        )
    mapping = ColumnMapping(
        headings={column: header[index].strip() for column, (index, _) in found.items()},
        units={column: unit for column, (_, unit) in found.items() if unit},
        fixed={"charge_type": "AC"} if preset == "evcc" else {},
        name=f"{preset} preset",
    )
    return mapping, ignored


def _column_of(preset: str, key: str) -> tuple[str | None, str]:
    if preset == "evcc":
        return EVCC_HEADINGS.get(key, (None, ""))
    if key in _KM_ODOMETER:
        return "odometer", "km"
    if column := _SPREADSHEET_BY_HEADING.get(key):
        return column, ""
    underscored = key.replace(" ", "_")
    return (underscored if underscored in HEADER else None), ""

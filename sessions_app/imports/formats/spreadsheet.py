"""A spreadsheet of one's own: PlugTrack's columns under the headings people write (Date, Mileage,
kWh, Cost, Location, ...), in English or German, in any order, case and punctuation aside; PlugTrack's
own column names too. "Odometer (km)" is read as km, "Duration (s)" as seconds. The mapping these
headings make (presets.py) reads the file (mapped.py)."""

from ..csv_format import HEADER

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
_BY_HEADING = {heading: column for column, headings in SPREADSHEET_HEADINGS.items() for heading in headings}
# An odometer heading naming km: "Odometer (km)", "Mileage km", "Kilometerstand".
_KM_ODOMETER = ("odometer km", "mileage km", "odo km", "odometer reading km", "kilometerstand", "kilometerstand km")
# A start's heading: the session's date when the file has no column named for the date itself (a file
# may have both "Date" and "Start time", the time of day).
START_HEADINGS = ("start time", "start date", "started", "start", "start date time", "charge start", "begin")
# A duration heading naming another unit than minutes: "Duration (s)", "duration_seconds", "Duration (hours)".
_DURATION_UNITS = {
    "duration s": "seconds", "duration sec": "seconds", "duration secs": "seconds", "duration seconds": "seconds",
    "seconds": "seconds", "duration h": "hours", "duration hours": "hours", "hours": "hours",
}  # fmt: skip


def spreadsheet_column(key: str) -> tuple[str | None, str]:
    """The field a heading (its presets.heading_key) names in a spreadsheet, and its unit ("" for PlugTrack's)."""
    if key in _KM_ODOMETER:
        return "odometer", "km"
    if key in _DURATION_UNITS:
        return "duration_mins", _DURATION_UNITS[key]
    if column := _BY_HEADING.get(key):
        return column, ""
    underscored = key.replace(" ", "_")
    return (underscored if underscored in HEADER else None), ""

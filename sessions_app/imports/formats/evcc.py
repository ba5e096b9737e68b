"""evcc's sessions CSV (its Sessions page → Download CSV), with its English or German headings as its
translations write them: semicolons and decimal commas in German; the odometer in km, durations like
"5h21m5s"; prices in the currency evcc is set to, which the file does not say (so they need the
person's currency); every session AC (evcc runs AC wallboxes: said in the report). Read through the
mapping its headings make (presets.py) by mapped.py."""

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
# Headings only evcc writes: three of them make a file evcc's.
EVCC_ONLY = {
    "startzeit", "endzeit", "ladepunkt", "kennung", "fahrzeug", "ladedauer", "sonne %", "start time", "end time",
    "charging point", "loadpoint", "identifier", "solar %", "meter start kwh", "meter stop kwh",
    "zählerstand start kwh", "zählerstand ende kwh",
}  # fmt: skip


def evcc_column(key: str) -> tuple[str | None, str]:
    """The field one of evcc's headings (its presets.heading_key) names, and its unit."""
    return EVCC_HEADINGS.get(key, (None, ""))

"""Demo data: a UK owner with a Kia Niro EV and a realistic year of charging.

Mostly overnight at home on an off-peak tariff, a rapid charge on longer trips, now and then a
supermarket charger; efficiency falls in winter. Generated from a fixed seed, so it is the same
year (ending today) on every machine.
"""

import csv
import datetime as dt
import io
import math
import random
from decimal import Decimal

from django.db import transaction

from cars_app.models import Car
from plugtrack_site.accounts import owner_account_ensure

from .imports.csv_format import HEADER
from .imports.csv_io import charging_sessions_import

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "plugtrack-demo"
BATTERY_KWH = Decimal("64.8")

RAPID_SITES = [
    ("Gridserve Electric Forecourt Braintree", "GRIDSERVE", Decimal("0.79"), 120),
    ("InstaVolt Costa Winchester", "InstaVolt", Decimal("0.85"), 120),
    ("Osprey Tesco Extra Harlow", "Osprey", Decimal("0.79"), 150),
    ("Ionity Cobham Services M25", "IONITY", Decimal("0.74"), 100),
    ("BP Pulse Cambridge Services", "bp pulse", Decimal("0.83"), 50),
]
DESTINATION_SITES = [
    ("Tesco Extra Chelmsford", "Pod Point", Decimal("0.49"), Decimal("7")),
    ("Sainsbury's Colchester", "Connect", Decimal("0.55"), Decimal("22")),
]


def demo_session_rows(*, days: int = 365, today: dt.date | None = None, seed: int = 2024) -> list[dict]:
    """A year of sessions as dicts keyed like the sessions CSV header, values as model values."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    odometer = 12_480
    rows = []
    for day_offset in range(days, -1, -1):
        date = today - dt.timedelta(days=day_offset)
        # Seasonal UK temperature and efficiency: coldest mid-January, warmest mid-July.
        season = math.cos(2 * math.pi * (date.timetuple().tm_yday - 196) / 365)
        temperature = Decimal(str(round(11 + 7 * season + rng.uniform(-3, 3), 1)))
        efficiency = 3.7 + 0.6 * season + rng.uniform(-0.2, 0.2)
        kind = rng.choices(["none", "home", "rapid", "destination"], weights=[70, 23, 4, 3])[0]
        if kind == "none":
            continue
        soc_from = rng.randint(15, 45) if kind != "destination" else rng.randint(40, 70)
        soc_to = {"home": 80, "rapid": rng.choice([75, 80, 85]), "destination": min(soc_from + 20, 95)}[kind]
        if kind == "home" and rng.random() < 0.08:
            soc_to = 100  # an occasional full charge, as the battery maker advises
        kwh = (BATTERY_KWH * (soc_to - soc_from) / 100).quantize(Decimal("0.001"))
        odometer += round(float(kwh) * efficiency)
        if kind == "home":
            label, network, price, power = "Home driveway", "Octopus Intelligent Go", Decimal("0.075"), Decimal("7")
        elif kind == "rapid":
            label, network, price, top_power = rng.choice(RAPID_SITES)
            power = Decimal(min(top_power, 75))
        else:
            label, network, price, power = rng.choice(DESTINATION_SITES)
            power = min(power, Decimal("11"))  # the car's onboard charger
        rows.append(
            {
                "date": date,
                "odometer": odometer,
                "charge_type": "DC" if kind == "rapid" else "AC",
                "charge_power_kw": power,
                "location_label": label,
                "charge_network": network,
                "charge_delivered_kwh": kwh,
                "duration_mins": max(5, round(float(kwh / power) * 60 * 1.1)),
                "cost_per_kwh": price,
                "total_cost_gbp": (price * kwh).quantize(Decimal("0.01")),
                "soc_from": soc_from,
                "soc_to": soc_to,
                "ambient_temp_c": temperature,
                "notes": "",
            }
        )
    return rows


def demo_sessions_csv() -> io.StringIO:
    """The demo year as a sessions CSV, so it is loaded the way a person's own file would be."""
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    for row in demo_session_rows():
        writer.writerow(["" if row[column] is None else str(row[column]) for column in HEADER])
    stream.seek(0)
    stream.name = "demo sessions"
    return stream


@transaction.atomic
def demo_account_load() -> tuple[Car, int, bool]:
    """Create the demo owner and car, and a year of sessions if the car has none.

    Returns (car, sessions created, whether the user was created). Safe to run again.
    """
    user, user_created = owner_account_ensure(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    car, _ = Car.objects.get_or_create(
        user=user,
        name="Family Niro",
        make="Kia",
        model="Niro EV",
        defaults={
            "battery_kwh": BATTERY_KWH,
            "efficiency_mpkwh": Decimal("3.9"),
            "recommended_full_charge_enabled": True,
            "recommended_full_charge_frequency_value": 1,
            "recommended_full_charge_frequency_unit": Car.FrequencyUnit.MONTHS,
        },
    )
    if car.sessions.exists():
        return car, 0, user_created
    report = charging_sessions_import(user=user, car=car, source=demo_sessions_csv())
    return car, report.inserted, user_created

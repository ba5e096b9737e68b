"""The published rates PlugTrack's migrations add to the rate table. Each migration that brings new
rates calls `rates_add` with its own rows: a row already there (the same scheme, date, place and
band) is left exactly as it is, so an administrator's correction survives every upgrade."""

from decimal import Decimal

HMRC_AER = "https://www.gov.uk/guidance/advisory-fuel-rates"
HMRC_MILEAGE = "https://www.gov.uk/expenses-and-benefits-business-travel-mileage/rules-for-tax"
DE_KWH = "https://www.bundesfinanzministerium.de/"

# (scheme, valid_from, charging, from_business_mile, amount, source_url, source_note)
RATES_2026 = [
    ("uk-aer", "2025-09-01", "home", 0, "0.08", HMRC_AER,
     "Advisory electric rate for home charging, from 1 September 2025"),
    ("uk-aer", "2025-09-01", "public", 0, "0.14", HMRC_AER,
     "Advisory electric rate for public charging, from 1 September 2025"),
    ("uk-aer", "2026-03-01", "home", 0, "0.07", HMRC_AER,
     "Advisory electric rate for home charging, from 1 March 2026"),
    ("uk-aer", "2026-03-01", "public", 0, "0.15", HMRC_AER,
     "Advisory electric rate for public charging, from 1 March 2026"),
    ("uk-mileage", "2011-04-06", "", 0, "0.45", HMRC_MILEAGE,
     "Approved mileage allowance, cars and vans: 45p a mile for the first 10,000 business miles of the tax year"),
    ("uk-mileage", "2011-04-06", "", 10_000, "0.25", HMRC_MILEAGE,
     "Approved mileage allowance, cars and vans: 25p a mile above 10,000 business miles of the tax year"),
    ("de-kwh", "2026-01-01", "", 0, "0.34", DE_KWH,
     "Official average household electricity price for 2026, per kWh charged at home"),
]  # fmt: skip


# Added by migration 0003: the single rate before the split, and the December 2025 quarter.
RATES_EARLIER = [
    ("uk-aer", "2024-09-01", "home", 0, "0.07", HMRC_AER,
     "Advisory electric rate, from 1 September 2024: one rate of 7p a mile wherever the car was charged"),
    ("uk-aer", "2024-09-01", "public", 0, "0.07", HMRC_AER,
     "Advisory electric rate, from 1 September 2024: one rate of 7p a mile wherever the car was charged"),
    ("uk-aer", "2025-12-01", "home", 0, "0.07", HMRC_AER,
     "Advisory electric rate for home charging, from 1 December 2025"),
    ("uk-aer", "2025-12-01", "public", 0, "0.14", HMRC_AER,
     "Advisory electric rate for public charging, from 1 December 2025"),
]  # fmt: skip


def rates_add(Rate, rows) -> int:
    """Add the rows not yet in the table (by scheme, date, place and band); never change one that is
    there. `Rate` is the migration's historical model. How many were added."""
    added = 0
    for scheme, valid_from, charging, from_mile, amount, url, note in rows:
        _, created = Rate.objects.get_or_create(
            scheme=scheme, valid_from=valid_from, charging=charging, from_business_mile=from_mile,
            defaults={"amount": Decimal(amount), "source_url": url, "source_note": note, "seeded": True},
        )  # fmt: skip
        added += created
    return added

"""Hard bounds: values no real charging session can have. The implausible is a warning
(plausibility.py: flagged "check", imported all the same); the impossible is an error wherever a
session comes in — the model (so the admin's form), every import, a restore, the API.

A session stored before these bounds existed (or under a higher price ceiling) that breaks one is
kept, flagged "check" (plausibility.Check.IMPOSSIBLE) for the owner to correct; nothing deletes it.

Each message says the value, the bound and the likely cause: a spreadsheet in another locale that
read 36.936 as 36936, a price typed in pence.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import NamedTuple

from django.core.exceptions import ValidationError

from plugtrack_site.numbers import decimal_grouped, decimal_text

# What one session may charge: the battery, what the car used while charging, and losses, never
# half a battery more. With no battery known, more than the largest battery on sale (about 200 kWh).
ENERGY_PER_BATTERY = Decimal("1.5")
ENERGY_WITHOUT_BATTERY_KWH = Decimal(250)
# The price ceiling is each owner's setting (settings_app.registry: max_price_per_kwh).


class Bound(StrEnum):
    """A bound, as a report names the problem of a row that breaks it."""

    ENERGY = "more energy than 1.5 × the battery"
    PRICE = "a price above the most a kWh costs"
    COST = "a total cost above the energy at the most a kWh costs"


# The field each bound is about.
BOUND_FIELDS = {Bound.ENERGY: "charge_delivered_kwh", Bound.PRICE: "cost_per_kwh", Bound.COST: "total_cost_gbp"}
BOUND_CODES = frozenset(bound.value for bound in Bound)  # a ValidationError's code says which bound it is


def energy_limit(battery_kwh: Decimal | None) -> Decimal:
    return ENERGY_WITHOUT_BATTERY_KWH if battery_kwh is None else battery_kwh * ENERGY_PER_BATTERY


def bounds_broken(
    *, kwh: Decimal | None, price: Decimal | None, total: Decimal | None, battery_kwh: Decimal | None,
    price_ceiling: Decimal,
) -> dict[str, ValidationError]:  # fmt: skip
    """Field → the error of each bound the values break (none given: nothing judged)."""
    errors = {}
    if kwh is not None and kwh > energy_limit(battery_kwh):
        errors[BOUND_FIELDS[Bound.ENERGY]] = _error(Bound.ENERGY, _energy_message(kwh, battery_kwh))
    if price is not None and price > price_ceiling:
        errors[BOUND_FIELDS[Bound.PRICE]] = _error(
            Bound.PRICE,
            f"{decimal_grouped(price)} £/kWh is above the most a kWh costs (£{price_ceiling:,.2f}): "
            "was it typed in pence?",
        )
    # (a total worked out from a price in pence, or for energy beyond the bound, is their mistake: said once)
    if total is not None and kwh is not None and total > most_cost(kwh, price_ceiling) and not errors:
        errors[BOUND_FIELDS[Bound.COST]] = _error(
            Bound.COST,
            f"£{total:,.2f} is more than {decimal_text(kwh)} kWh cost at the most a kWh costs "
            f"(£{price_ceiling:,.2f}), £{most_cost(kwh, price_ceiling):,.2f}: was it typed in pence, or is the energy "
            "wrong?",
        )
    return errors


def most_cost(kwh: Decimal, price_ceiling: Decimal) -> Decimal:
    """The most `kwh` can cost, to the penny as a total is kept (rounded half up, as a derived total is)."""
    return (kwh * price_ceiling).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _energy_message(kwh: Decimal, battery_kwh: Decimal | None) -> str:
    limit = (
        f"more than {ENERGY_PER_BATTERY} × the battery ({decimal_text(battery_kwh)} kWh)" if battery_kwh is not None
        else f"more than any car's battery holds ({ENERGY_WITHOUT_BATTERY_KWH} kWh)"
    )  # fmt: skip
    if looks_read_as_thousands(kwh, battery_kwh):
        cause = (
            f"did a spreadsheet read {decimal_text(kwh / 1000)} as {kwh:,.0f}, taking the dot for a thousands "
            "separator, or is it in Wh?"
        )
    else:
        cause = "is it another car's, or another column's value?"
    return f"{decimal_text(kwh)} kWh is {limit}: {cause}"


class BoundedValues(NamedTuple):
    """A row's values the bounds judge, as BoundsTally reads the causes from them."""

    kwh: Decimal | None
    battery_kwh: Decimal | None
    price: Decimal | None
    price_ceiling: Decimal


def _price_read_as_thousands(price: Decimal | None, price_ceiling: Decimal) -> bool:
    """A price beyond the ceiling that is a whole number a thousand times a plausible one: 0.075 read as 75."""
    return price is not None and price == price.to_integral_value() and price >= 10 and price / 1000 <= price_ceiling


def looks_read_as_thousands(kwh: Decimal | None, battery_kwh: Decimal | None) -> bool:
    """Whether a kWh beyond the bound is a plausible one a thousand times over (36.936 read as 36936,
    as a spreadsheet set to German or French reads a decimal point, or Wh given as kWh)."""
    if kwh is None:
        return False
    return kwh == kwh.to_integral_value() and kwh >= 1000 and kwh / 1000 <= energy_limit(battery_kwh)


def _error(bound: Bound, message: str) -> ValidationError:
    return ValidationError(message, code=bound.value)  # (a report groups rows by their errors' codes)


# A file of at least this many rows in which more than half break one bound is wrong as a whole.
MOST_ROWS_FROM = 3


@dataclass
class _Broken:
    rows: int = 0
    line: int = 0  # the first row that broke it, and its message
    message: str = ""
    thousands: bool = False  # ... which looked like a plausible kWh read a thousand times over


class BoundsTally:
    """How many rows of a file break each bound: most rows breaking one tells a file wrong as a whole
    (a spreadsheet's locale, prices in pence) from a few wrong rows, and says so once, not row by row."""

    def __init__(self):
        self.broken = {bound: _Broken() for bound in Bound}

    def count(self, errors: dict[str, list[ValidationError]], line: int, values: "BoundedValues") -> None:
        """Count the bounds a row's `errors` (a ValidationError's error_dict) say it breaks."""
        kwh, battery_kwh, price, price_ceiling = values
        for bound, field in BOUND_FIELDS.items():
            error = next((error for error in errors.get(field, ()) if error.code == bound.value), None)
            if error is None:
                continue
            broken = self.broken[bound]
            if not broken.rows:
                broken.line, broken.message = line, error.messages[0]
                broken.thousands = bound is Bound.ENERGY and looks_read_as_thousands(kwh, battery_kwh) or (
                    bound is Bound.PRICE and _price_read_as_thousands(price, price_ceiling)
                )
            broken.rows += 1

    def most_rows_message(self, *, rows: int, source: str, labels: dict[str, str]) -> str | None:
        """What is wrong with the file as a whole, when more than half of its `rows` break one bound."""
        if rows < MOST_ROWS_FROM:
            return None
        most = {bound: broken for bound, broken in self.broken.items() if broken.rows * 2 > rows}
        if not most:
            return None
        columns = "; ".join(
            f"{labels[BOUND_FIELDS[bound]]} in {broken.rows:,} of {rows:,} rows (line {broken.line}: {broken.message})"
            for bound, broken in most.items()
        )
        if any(broken.thousands for broken in most.values()):
            cause = (
                "This is what a spreadsheet set to a language that writes decimal commas (German, French, ...) does "
                "when it opens a file written with decimal points and saves it again: 36.936 becomes 36936 and 0.075 "
                "becomes 75. Import the file as it was before the spreadsheet saved it, or open it in the spreadsheet "
                "as English (UK) numbers and save it again."
            )
        elif Bound.PRICE in most or Bound.COST in most:
            cause = (
                "Are the prices or costs in pence? Then they are a hundred times too big: divide them by 100 in the "
                "file, or, for your own spreadsheet, choose pence as the price column's unit."
            )
        else:
            cause = "Is this the right file, and the right car?"
        return f"{source}: most rows break the same bound, so nothing was imported: {columns}. {cause}"

"""What the person chose for reading an owner's file: the answers to the questions its shape may
raise (encoding, date order, time zone, currency), the rule for a blank odometer, and a mapping.
Checked once here, whether they come from the command line, the admin or a job's stored options.
"""

import zoneinfo
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

from .asks import CURRENCY, NO_COSTS_NAMED, rate_example
from .csv_format import CsvFileError
from .formats.mapping import ColumnMapping
from .formats.shape import DATE_ORDERS, ENCODINGS

# What to do with a row whose odometer is blank (evcc leaves it blank when it could not read the car;
# Tesla's charging report has no odometer column): "error" (the row's error, the default), "skip" (left
# out, as a warning) or "previous" (the latest odometer of the sessions dated before it, in the file or
# stored: 0 miles driven, said in the session's notes; odometer_history.py).
BLANK_ODOMETER_RULES = ("error", "skip", "previous")
NO_COSTS = "none"  # the currency choice that leaves every cost out


@dataclass
class ImportChoices:
    date_order: str | None = None
    encoding: str | None = None
    time_zone: str | None = None  # e.g. "Europe/London": the local zone of date-times that carry an offset
    currency: str | None = None  # "GBP", another ISO code with a rate, or "none"
    rate: Decimal | None = None  # pounds per unit of `currency`
    blank_odometer: str = "error"
    mapping: ColumnMapping | None = None

    def __post_init__(self):
        if self.date_order and self.date_order not in DATE_ORDERS:
            raise CsvFileError(f'Unknown date order "{self.date_order}": use {", ".join(DATE_ORDERS)}.')
        if self.encoding and self.encoding not in ENCODINGS:
            raise CsvFileError(f'Unknown encoding "{self.encoding}": use utf-8 or cp1252.')
        if self.time_zone:
            try:
                zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise CsvFileError(f'Unknown time zone "{self.time_zone}": give one such as Europe/London.') from None
        if self.blank_odometer not in BLANK_ODOMETER_RULES:
            raise CsvFileError(
                f'Unknown blank-odometer rule "{self.blank_odometer}": use {", ".join(BLANK_ODOMETER_RULES)}.'
            )
        self._money_check()

    def _money_check(self) -> None:
        if self.currency is None:
            if self.rate is not None:
                raise CsvFileError("An exchange rate needs the currency it converts from (", CURRENCY, ").")
            return
        self.currency = self.currency.strip().upper() if self.currency.lower() != NO_COSTS else NO_COSTS
        if self.currency == NO_COSTS:
            self.rate = None
            return
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise CsvFileError(f'"{self.currency}" is not a currency code: give one such as GBP or EUR, or "none".')
        try:
            self.rate = None if self.rate is None else Decimal(str(self.rate))
            if self.rate is not None and not self.rate.is_finite():
                raise InvalidOperation  # NaN, Infinity
        except InvalidOperation:
            raise CsvFileError(
                f'The exchange rate "{self.rate}" is not a number (pounds per {self.currency}).'
            ) from None
        if self.currency == "GBP":
            if self.rate not in (None, Decimal(1)):
                raise CsvFileError("Costs in GBP are pounds already: leave the rate out (or give 1).")
            self.rate = Decimal(1)
        elif self.rate is None or not Decimal("0.0001") <= self.rate <= Decimal(10000):
            raise CsvFileError(
                f"Costs in {self.currency} need the exchange rate: how many pounds one {self.currency} was (",
                rate_example(self.currency), "), or ", NO_COSTS_NAMED, " to leave the costs out.",
            )  # fmt: skip

    def to_options(self) -> dict:
        """As a job keeps them (JSON)."""
        options = asdict(self) | {"mapping": self.mapping.to_json() if self.mapping else None}
        return options | {"rate": str(self.rate) if self.rate is not None else None}

    @classmethod
    def from_options(cls, options: dict) -> "ImportChoices":
        mapping = options.get("mapping")
        return cls(
            date_order=options.get("date_order") or None, encoding=options.get("encoding") or None,
            time_zone=options.get("time_zone") or None, currency=options.get("currency") or None,
            rate=options.get("rate") or None, blank_odometer=options.get("blank_odometer") or "error",
            mapping=ColumnMapping.from_json(mapping) if mapping else None,
        )  # fmt: skip

    def describe_money(self) -> str:
        if self.currency in (None, "GBP"):
            return "pounds"
        if self.currency == NO_COSTS:
            return "left out"
        return f"{self.currency}, converted at £{self.rate} per {self.currency}"

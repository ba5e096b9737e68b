"""The choices an import's messages ask for, each as the command line offers it (an option) and as
the admin does (a field on the columns page, whose label is the one here): a message names them
with these, and is rendered for each (plugtrack_site.errors.Ask: `str(error)` for the command,
`error.for_admin()` for the admin). The admin's question fields take their labels from here too,
so that a message and the field it points to say the same words."""

from plugtrack_site.errors import Ask

ENCODING = Ask("--encoding cp1252", "Encoding", "encoding")
DATE_ORDER = Ask("--date-order dmy or mdy", "Date order", "date_order")
TIME_ZONE = Ask("--timezone Europe/London", "Time zone", "time_zone")
CURRENCY = Ask("--currency EUR --rate 0.86", "Currency of its costs", "currency")
CURRENCY_EXAMPLE = Ask(
    "--currency EUR --rate 0.86", "Currency of its costs", "currency",
    said="EUR and 0.86 in “Currency of its costs” and “Exchange rate”",
)  # fmt: skip
POUNDS = Ask("--currency GBP", "Currency of its costs", "currency", said="GBP")
NO_COSTS = Ask("--currency none", "Currency of its costs", "currency", said="none")
NO_COSTS_NAMED = Ask("--currency none", "Currency of its costs", "currency", said="“none” as the currency of its costs")
RATE = Ask("--rate", "Exchange rate", "rate")
BLANK_ODOMETER = Ask("--blank-odometer skip or previous", "A row without an odometer", "blank_odometer")
BLANK_ODOMETER_PREVIOUS = Ask("--blank-odometer previous", "A row without an odometer", "blank_odometer")
MAPPING = Ask("--mapping", "Which column is which", "mapping")
FORMAT_AUTO = Ask("--format auto", "Format", "file_format", said="“Format”: Detect it")
FORMAT_OTHER = Ask(
    "--format spreadsheet, evcc", "Format", "file_format", said="“Format” on the import page: a spreadsheet or evcc's"
)


def rate_example(currency: str) -> Ask:
    """The exchange rate a currency needs, with an example."""
    return Ask(f"e.g. --currency {currency} --rate 0.86", RATE.field, RATE.choice, said=f"“{RATE.field}”, e.g. 0.86")

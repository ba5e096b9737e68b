"""A decimal as PlugTrack writes it, wherever it is written: a CSV cell, a backup, a message, a
duplicate key compared as text."""

import re
from decimal import Decimal

# A number as people write it: ASCII digits, a sign, a point; no exponent, NaN or Infinity, and no
# longer than any real figure (a 5,000-digit "number" would make Decimal arithmetic raise or crawl).
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
MAX_NUMBER_CHARS = 20


def decimal_text(value: Decimal | None) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros ("30.000" → "30", "1.2E+2" → "120",
    "-0" → "0"); "" for None. Exact: nothing is rounded (Decimal.normalize would keep 28 digits)."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def decimal_grouped(value: Decimal) -> str:
    """As `decimal_text`, with thousands separators, for a person to read: "2,770,200", "0.075"."""
    whole, point, fraction = decimal_text(value).partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.removeprefix('-')):,}{point}{fraction}"


def decimal_parsed(text: str) -> Decimal | None:
    """A plain number's Decimal (`_PLAIN`, at most MAX_NUMBER_CHARS), else None: for the caller to
    leave the text as it is, to be that row's error where it is checked."""
    if len(text) > MAX_NUMBER_CHARS or not _PLAIN.fullmatch(text):
        return None
    return Decimal(text)

"""A decimal as PlugTrack writes it, wherever it is written: a CSV cell, a backup, a message, a
duplicate key compared as text."""

from decimal import Decimal


def decimal_text(value: Decimal | None) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros ("30.000" → "30", "1.2E+2" → "120",
    "-0" → "0"); "" for None. Exact: nothing is rounded (Decimal.normalize would keep 28 digits)."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text

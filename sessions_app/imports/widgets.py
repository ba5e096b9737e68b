"""The cell widgets of the sessions CSV: each parses one column's text into a typed value and
renders it back, in one fixed, locale-free way (the library's own widgets follow the active
language: "30.500" would be 30500 under German formatting)."""

import datetime as dt
import re
from decimal import Decimal

from django.utils import timezone
from import_export import widgets

from plugtrack_site.errors import excerpt
from plugtrack_site.numbers import decimal_text

from ..models import ChargingSession
from .csv_format import formula_escape, formula_unescape

# ASCII digits only: Python's \d also takes digits of other scripts ("٥٠").
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")  # longer is no count of miles, and int() refuses 4,300 digits
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


class CellError(ValueError):
    """A cell that is not a value of its column; `kind` says what is wrong in a few words, as a report
    groups the rows that have the same problem."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class CellWidget(widgets.Widget):
    """Base of the strict widgets: blanks around a value are ignored, a blank cell is None."""

    def __init__(self, *, required: bool = False):
        super().__init__()
        self.required = required

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        if not text:
            if self.required:
                raise CellError("A value is required.", "missing")
            return None
        return self.parse(text)

    def parse(self, text: str):
        return text

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class TextWidget(CellWidget):
    def clean(self, value, row=None, **kwargs):
        return formula_unescape(super().clean(value, row, **kwargs) or "")

    def parse(self, text: str) -> str:
        if "\x00" in text:  # PostgreSQL cannot store it; refuse it everywhere alike
            raise CellError("contains a NUL character; remove it.", "a NUL character")
        return text

    def render(self, value, obj=None, **kwargs):
        return formula_escape(value or "")


class DecimalWidget(CellWidget):
    def parse(self, text: str) -> Decimal:
        if not _DECIMAL.fullmatch(text):
            raise CellError(
                f'"{excerpt(text)}" is not a number. Use digits with a dot for decimals, e.g. 12.5.', "not a number"
            )
        # "30.5000" is 30.5: trailing zeros must not count against the decimal places
        return Decimal(decimal_text(Decimal(text)))

    def render(self, value, obj=None, **kwargs):
        return decimal_text(value)


class IntegerWidget(CellWidget):
    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise CellError(f'"{excerpt(text)}" is not a whole number.', "not a whole number")
        return int(text)


class DateWidget(CellWidget):
    def parse(self, text: str) -> dt.date:
        try:
            if _ISO_DATE.fullmatch(text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        raise CellError(f'"{excerpt(text)}" is not a date in the form YYYY-MM-DD, e.g. 2025-03-31.', "not a date")

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else value.isoformat()


class DateTimeWidget(CellWidget):
    """A moment as ISO 8601: with its offset an instant ("2026-03-28T22:30:00+00:00", "…Z"); without one,
    the site's local time. Written back in the site's zone, with its offset, to the second."""

    def parse(self, text: str) -> dt.datetime:
        try:
            if _ISO_DATE_TIME.fullmatch(text):
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
                return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        except (ValueError, OverflowError):
            pass
        raise CellError(
            f'"{excerpt(text)}" is not a date and time in the form 2026-03-28T22:30:00+00:00.', "not a date and time"
        )

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else timezone.localtime(value).replace(microsecond=0).isoformat()


class ChargeTypeWidget(CellWidget):
    TYPES = frozenset(ChargingSession.ChargeType.values)  # (the enum builds its list anew at each use)

    def parse(self, text: str) -> str:
        if text.upper() not in self.TYPES:
            raise CellError(f'"{excerpt(text)}" is not a charge type: use AC or DC.', "not AC or DC")
        return text.upper()

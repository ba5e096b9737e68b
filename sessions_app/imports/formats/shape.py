"""The shape of an owner's own CSV, worked out before any row is imported, and said back: its
encoding, delimiter, decimal mark and date order; and the questions the file raises but cannot
answer: the local zone of date-times with an offset, the currency of costs not in pounds.

Nothing is guessed silently: a file that is not UTF-8 but reads as Windows-1252 is recognised and
offered (the person chooses that encoding), and dates that could be day/month or month/day
(03/04/2025 and nothing to tell them apart) stop the import with the question; a value such as
25/11/2026 decides it. The whole file is scanned for that proof, a row at a time (values_scan, which
raises the first question). The admin asks before the check: values_questions reads the first rows
the same way and returns every question they raise, the blank-odometer rule's too.

A question's message names the choice it asks for (asks.py): its option on the command line, its
field in the admin.
"""

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..asks import (
    BLANK_ODOMETER,
    CURRENCY_EXAMPLE,
    DATE_ORDER,
    ENCODING,
    NO_COSTS,
    POUNDS,
    TIME_ZONE,
)
from ..csv_format import CsvFileError

if TYPE_CHECKING:
    from ..choices import ImportChoices

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
DATE_ORDERS = {"ymd": "year-month-day", "dmy": "day/month/year", "mdy": "month/day/year"}
ENCODINGS = {"utf-8": "UTF-8", "cp1252": "Windows-1252 (Latin-1)"}

SLASHED_DATE = re.compile(r"^\s*(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?!\d)")
ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")  # a time may follow: 2026-11-25T12:30
# A number that can only have a decimal comma (12,5 · 1.234,56), and one that can only have a decimal
# point (30.5 · 0.075 · 1,234.5: not three digits after a lone point, which could be thousands).
_DECIMAL_COMMA = re.compile(r"^\s*-?(?:\d{1,3}(?:\.\d{3})+|\d+),(?:\d{1,2}|\d{4,})(?!\d)")
_DECIMAL_POINT = re.compile(r"^\s*-?(?:\d{1,3}(?:,\d{3})+\.\d+|\d+\.(?:\d{1,2}|\d{4,}))(?!\d)")


class ShapeQuestion(CsvFileError):
    """The file's shape needs the person's choice (an encoding, a date order). `kind`: which of
    ImportChoices' answers it asks for ("date_order"), by default that of the first choice it names."""

    def __init__(self, *parts, kind: str = ""):
        super().__init__(*parts)
        self.kind = kind or next((ask.choice for ask in self.asks if ask.choice), "")


@dataclass
class FileShape:
    encoding: str
    delimiter: str
    decimal_comma: bool = False
    date_order: str | None = None  # "ymd", "dmy" or "mdy"; None before the rows are scanned
    time_zone: str | None = None  # the local zone of zoned date-times (None: the file has none)

    def describe(self) -> dict:
        return {
            "encoding": ENCODINGS[self.encoding], "delimiter": DELIMITERS[self.delimiter],
            "decimal_mark": "comma" if self.decimal_comma else "point",
            "date_order": DATE_ORDERS.get(self.date_order or "", "not decided"),
            **({"time_zone": self.time_zone} if self.time_zone else {}),
        }  # fmt: skip


def encoding_detect(path: Path, name: str, chosen: str | None) -> str:
    """UTF-8 (with or without a byte-order mark), or the encoding the person chose; a file that
    reads as Windows-1252 instead is offered, not taken."""
    if chosen:  # (one of ENCODINGS: choices.py checked it)
        encoding_check(path, name, chosen)
        return chosen
    if (line := first_undecodable_line(path, "utf-8")) is None:
        return "utf-8"
    if first_undecodable_line(path, "cp1252") is not None:
        raise CsvFileError(f'{name} is not UTF-8 text (line {line}), nor Windows-1252. Save it as "CSV UTF-8".')
    raise ShapeQuestion(
        f"{name} is not UTF-8 text (line {line} has a byte that is not); it reads as Windows-1252, "
        'what Excel saves as "CSV" on Windows. Read it as Windows-1252 (', ENCODING, '), or save it as "CSV UTF-8".'
    )


def file_readable_check(path: Path) -> None:
    """Refuse a missing or unreadable file, or a folder, before anything else."""
    if not path.exists():
        raise CsvFileError(f"No file at {path}.")
    if path.is_dir():
        raise CsvFileError(f"{path} is a folder; give the path of a CSV file.")
    try:
        path.open("rb").close()
    except PermissionError:
        raise CsvFileError(f"Cannot read {path}: permission denied.") from None


def encoding_check(path: Path, name: str, encoding: str) -> None:
    """Refuse, before any row, a file that the chosen encoding cannot read."""
    if (line := first_undecodable_line(path, encoding)) is not None:
        raise CsvFileError(f"{name} cannot be read as {ENCODINGS[encoding]} (line {line}). Is this the right file?")


def first_undecodable_line(path: Path, encoding: str) -> int | None:
    """The line of the first byte `encoding` cannot read (None: it reads the whole file), a block at a time."""
    decoder, line = codecs.getincrementaldecoder(encoding)(), 1
    with path.open("rb") as handle:
        # The last, empty block ends the decoding: a file may end halfway through a character.
        for block in _blocks(handle):
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                return line + block.count(b"\n", 0, error.start)
            line += block.count(b"\n")
    return None


def _blocks(handle):
    yield from iter(lambda: handle.read(1 << 20), b"")
    yield b""


def delimiter_detect(header_line: str, name: str) -> str:
    """The delimiter that splits the header into the most columns (a comma inside a quoted name
    does not count)."""
    counts = {delimiter: len(next(csv.reader([header_line], delimiter=delimiter))) for delimiter in DELIMITERS}
    delimiter, columns = max(counts.items(), key=lambda item: item[1])
    if columns < 2:
        raise CsvFileError(
            f"{name}: the first line has one column only, whether read with commas, semicolons or tabs. "
            "The first line must be the header, naming the columns."
        )
    return delimiter


# A date-time that carries its zone: 2026-11-25T18:02:10+01:00, 2026-11-25 17:02Z.
ZONED_DATE_TIME = re.compile(
    r"^\s*\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})\s*$"
)
# The currency a cost's text names: a sign or a code ("12,40 €", "EUR 12.40", "£9", "$12").
_MONEY_SIGNS = {"€": "EUR", "£": "GBP", "$": "USD"}
_MONEY_CODE = re.compile(r"\b(GBP|EUR|USD|CHF|SEK|NOK|DKK|PLN|CZK|CAD|AUD)\b", re.IGNORECASE)


def currency_marks(text: str) -> set[str]:
    """The currencies a cell names ("$" is taken as USD); empty for a plain number."""
    marks = {code for sign, code in _MONEY_SIGNS.items() if sign in text}
    return marks | {code.upper() for code in _MONEY_CODE.findall(text)}


@dataclass
class ScannedRow:
    line: int
    date: str
    numbers: list[str]  # every number cell, for the decimal mark
    costs: list[str]  # the cost cells, for their currency
    odometer: str | None = None  # its odometer cell (None: not looked at), for the blank-odometer rule


def scanned_rows(
    records: Iterable[tuple[int, list[str]]], width: int, date_index: int | None, number_indexes: list[int],
    money_indexes: list[int] = (), odometer_index: int | None = None,
) -> Iterator[ScannedRow]:  # fmt: skip
    """A file's records as values_scan reads them: each row as wide as the header (another is refused
    later, and its shifted cells prove nothing), its date, number, cost and odometer cells."""
    for line, cells in records:
        if len(cells) == width:
            date = cells[date_index] if date_index is not None else ""
            odometer = cells[odometer_index] if odometer_index is not None else None
            numbers, costs = [cells[i] for i in number_indexes], [cells[i] for i in money_indexes]
            yield ScannedRow(line, date, numbers, costs, odometer)


@dataclass
class _Evidence:
    decimal_comma_line: int | None = None  # a line with a number that can only have a decimal comma
    decimal_point_line: int | None = None  # ... only a decimal point
    day_first_line: int | None = None  # a line whose date can only be day/month
    month_first_line: int | None = None
    ambiguous_line: int | None = None  # a line whose date could be either
    zoned_line: int | None = None  # a line whose date-time carries a zone offset
    cost_line: int | None = None  # a line with a cost
    foreign_money_line: int | None = None  # a line with a cost that is not in pounds
    blank_odometer_line: int | None = None  # a line whose odometer is blank


def values_scan(shape: FileShape, rows: Iterable[ScannedRow], name: str, choices: "ImportChoices", *,
                costs_currency_unknown: bool = False) -> None:  # fmt: skip
    """Decide the decimal mark and the date order from the rows, and ask what they cannot tell: the
    local zone of zoned date-times, the currency of costs not in pounds (`costs_currency_unknown`:
    the file's costs are in a currency it does not say, as evcc's are). Raises the first question."""
    evidence = _evidence(rows)
    shape.decimal_comma = _decimal_comma(shape, evidence, name)
    if questions := _questions(shape, evidence, name, choices, costs_currency_unknown):
        raise questions[0]


def values_questions(shape: FileShape, rows: Iterable[ScannedRow], name: str, choices: "ImportChoices", *,
                     costs_currency_unknown: bool = False) -> list[ShapeQuestion]:  # fmt: skip
    """values_scan's questions, every one returned, not raised (the admin asks them before its check
    runs): with the rule for a blank odometer when a row has one (the rows scanned with their
    odometer) and the rule chosen is the default, an error. The decimal mark is left to the check."""
    evidence = _evidence(rows)
    questions = _questions(shape, evidence, name, choices, costs_currency_unknown)
    if evidence.blank_odometer_line and choices.blank_odometer == "error":
        questions.append(
            ShapeQuestion(
                f"{name}: line {evidence.blank_odometer_line} has no odometer (evcc leaves it blank when it could not "
                "read the car). Such a row is an error, unless you choose to leave it out or to give it the "
                "previous session's odometer (", BLANK_ODOMETER, ")."
            )  # fmt: skip
        )
    return questions


def _evidence(rows: Iterable[ScannedRow]) -> _Evidence:
    evidence = _Evidence()
    for row in rows:
        line, date = row.line, row.date
        if evidence.decimal_comma_line is None and any(_DECIMAL_COMMA.match(number) for number in row.numbers):
            evidence.decimal_comma_line = line
        if evidence.decimal_point_line is None and any(_DECIMAL_POINT.match(number) for number in row.numbers):
            evidence.decimal_point_line = line
        if evidence.cost_line is None and any(cost.strip() for cost in row.costs):
            evidence.cost_line = line
        if evidence.foreign_money_line is None and any(currency_marks(cost) - {"GBP"} for cost in row.costs):
            evidence.foreign_money_line = line
        if evidence.zoned_line is None and ZONED_DATE_TIME.match(date):
            evidence.zoned_line = line
        if not ISO_DATE.match(date) and (match := SLASHED_DATE.match(date)):
            first, second = int(match.group(1)), int(match.group(2))
            if first > 12 and evidence.day_first_line is None:
                evidence.day_first_line = line
            elif second > 12 and evidence.month_first_line is None:
                evidence.month_first_line = line
            elif first != second and evidence.ambiguous_line is None:
                evidence.ambiguous_line = line
        if evidence.blank_odometer_line is None and row.odometer is not None and not row.odometer.strip():
            evidence.blank_odometer_line = line
    return evidence


def _questions(shape: FileShape, evidence: _Evidence, name: str, choices: "ImportChoices",
               costs_currency_unknown: bool) -> list[ShapeQuestion]:  # fmt: skip
    """The date order decided on `shape` (and the local zone), and the questions the evidence raises."""
    questions = []
    try:
        shape.date_order = choices.date_order or _date_order(evidence, name)
    except ShapeQuestion as question:
        questions.append(question)
    if evidence.zoned_line and not choices.time_zone:
        questions.append(
            ShapeQuestion(
                f"{name}: line {evidence.zoned_line} has a date-time with a time zone offset, and sessions are kept by "
                "their local date. Say which zone is yours (", TIME_ZONE, ")."
            )  # fmt: skip
        )
    shape.time_zone = choices.time_zone if evidence.zoned_line else None
    unsaid = costs_currency_unknown and evidence.cost_line
    if choices.currency is None and (unsaid or evidence.foreign_money_line):
        where = (
            f"line {evidence.foreign_money_line} has a cost that is not in pounds" if evidence.foreign_money_line
            else f"its costs (line {evidence.cost_line}) are in the currency the app was set to, which it does not say"
        )  # fmt: skip
        questions.append(
            ShapeQuestion(
                f"{name}: {where}. PlugTrack keeps pounds: give their currency and its rate in pounds, e.g. ",
                CURRENCY_EXAMPLE, " (pounds per euro); ", POUNDS, " if they are pounds, or ", NO_COSTS,
                " to leave the costs out.",
            )  # fmt: skip
        )
    return questions


def _decimal_comma(shape: FileShape, evidence: _Evidence, name: str) -> bool:
    """A decimal comma when a number proves it and none proves a point; never in a comma-separated
    file (a comma inside a number there is a thousands separator, in quotes)."""
    if shape.delimiter == "," or evidence.decimal_comma_line is None:
        return False
    if evidence.decimal_point_line is not None:
        raise CsvFileError(
            f"{name}: the numbers disagree: line {evidence.decimal_comma_line} has a decimal comma, line "
            f"{evidence.decimal_point_line} a decimal point. Use one decimal mark throughout the file."
        )
    return True


def _date_order(evidence: _Evidence, name: str) -> str:
    if evidence.day_first_line and evidence.month_first_line:
        raise ShapeQuestion(
            f"{name}: the dates disagree: line {evidence.day_first_line} can only be day/month, line "
            f"{evidence.month_first_line} only month/day. Correct the file, or choose the order (", DATE_ORDER, ")."
        )
    if evidence.day_first_line:
        return "dmy"
    if evidence.month_first_line:
        return "mdy"
    if evidence.ambiguous_line:
        raise ShapeQuestion(
            f"{name}: the dates could be day/month or month/day (line {evidence.ambiguous_line}, and no date in the "
            "file tells them apart). Choose the order, day/month/year (25/11/2026) or month/day/year (11/25/2026): ",
            DATE_ORDER, ".",
        )  # fmt: skip
    return "ymd"

"""The sessions CSV as a file: its header, how its records are read, formula escaping and
canonical numbers. What each column means and how it is validated is the resource's job
(`resources.py`); this module knows only text.

Records are read with a bound: no record (a row, line breaks inside quoted cells included) may be
longer than MAX_RECORD_CHARS, and that is checked while reading, so a file with no line break or
one enormous cell is refused after reading that much, never held whole in memory.
"""

import csv
from collections import Counter
from collections.abc import Iterator
from typing import IO

from cars_app.models import NOTES_MAX_CHARS
from plugtrack_site.errors import PlugTrackError, excerpt

from .asks import FORMAT_AUTO

HEADER = (
    "date",
    "odometer",
    "charge_type",
    "charge_power_kw",
    "location_label",
    "charge_network",
    "charge_delivered_kwh",
    "duration_mins",
    "cost_per_kwh",
    "total_cost_gbp",
    "soc_from",
    "soc_to",
    "ambient_temp_c",
    "notes",
)
# A session's start and end (time-zone aware, ISO 8601 with their offset): after the 14, only when asked
# for (an export `--with-times`); a file may have them or not.
TIME_COLUMNS = ("started_at", "ended_at")
FIELDS = (*HEADER, *TIME_COLUMNS)  # every column a sessions CSV may hold, in this order

# The longest record read: the longest note (NOTES_MAX_CHARS, each character possibly a quote
# written twice) and every other cell fit with room to spare. Below the csv module's own cell limit
# (128 KiB), so that limit is never the one that speaks.
MAX_RECORD_CHARS = 64 * 1024

# A cell starting with one of these is run as a formula by spreadsheets. On export such a cell
# gets a leading apostrophe (the spreadsheet "this is text" mark); import removes it again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvFileError(PlugTrackError):
    """The file as a whole cannot be imported (missing, unreadable, wrong columns, no car)."""


def header_check(header: list[str], source_name: str) -> None:
    """Refuse a header with missing, unknown or repeated columns (order and blanks are free)."""
    counts = Counter(name.strip() for name in header)
    missing = [name for name in HEADER if name not in counts]
    unknown = [name for name in counts if name not in FIELDS]
    repeated = [name for name, count in counts.items() if count > 1 and name in FIELDS]
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {_names_excerpt(unknown)}")
    if repeated:
        problems.append(f"repeated column(s): {', '.join(sorted(repeated))}")
    if problems:
        raise CsvFileError(
            f"{source_name}: the header has {'; '.join(problems)}. "
            f"The first line must name these 14 columns: {','.join(HEADER)} (and may add {','.join(TIME_COLUMNS)})",
            *_resaved_hint(header),
        )  # fmt: skip


def _resaved_hint(header: list[str]) -> tuple:
    """What to do with PlugTrack's own columns as a spreadsheet saves them (semicolons, tabs, other case)."""
    for delimiter, said in ((";", "separated by semicolons"), ("\t", "separated by tabs"), (",", "in other case")):
        if own_columns([name for cell in header for name in cell.split(delimiter)]):
            return (
                f". This is PlugTrack's own columns {said}, as a spreadsheet saves them: import it with ", FORMAT_AUTO,
                ", which reads that shape.",
            )  # fmt: skip
    return ()


def own_columns(header: list[str]) -> bool:
    """PlugTrack's 14 columns (and its start and end, if any), each once, in any order and case."""
    names = [heading.strip().lower() for heading in header]
    return len(set(names)) == len(names) and set(HEADER) <= set(names) <= set(FIELDS)


def _names_excerpt(names: list[str], shown: int = 5) -> str:
    text = ", ".join(repr(excerpt(name)) for name in names[:shown])
    return text + (f" and {len(names) - shown:,} more" if len(names) > shown else "")


def header_read(records: Iterator[tuple[int, list[str]]], source_name: str) -> list[str]:
    """The first record of `records` (from `csv_records`), checked as the header; names stripped."""
    _, header = next(records, (0, None))
    if header is None:
        raise CsvFileError(f"{source_name} is empty. Its first line must be the header: {','.join(HEADER)}")
    header_check(header, source_name)
    return [name.strip() for name in header]


def no_sessions_message(source_name: str) -> str:
    return f"{source_name} has the header but no sessions: nothing to import."


class _BoundedLines:
    """The lines of a text stream for csv.reader, refusing a record that grows past
    MAX_RECORD_CHARS before more of it is read."""

    def __init__(self, stream: IO[str], source_name: str):
        self.stream, self.source_name = stream, source_name
        self.record_chars = 0
        self.record_line = 1

    def __iter__(self) -> "_BoundedLines":
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_RECORD_CHARS + 1 - self.record_chars)
        if not line:
            raise StopIteration
        self.record_chars += len(line)
        if self.record_chars > MAX_RECORD_CHARS:
            raise CsvFileError(
                f"{self.source_name}, line {self.record_line}: the row is longer than {MAX_RECORD_CHARS:,} "
                f"characters, more than any session can hold (a note has at most {NOTES_MAX_CHARS:,}). Each row "
                "must end with a line break, and a quoted value with its closing quote. Is this the right file?"
            )
        return line

    def next_record(self, line: int) -> None:
        self.record_chars, self.record_line = 0, line


def csv_records(stream: IO[str], source_name: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, cells) for each record of `stream` that is not blank.

    Blank lines and rows of empty cells (which spreadsheets leave behind) are skipped. Open the
    stream with newline="" so that line breaks inside quoted cells are kept.
    """
    lines = _BoundedLines(stream, source_name)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        line = reader.line_num + 1  # a quoted cell may span lines: report where the record starts
        lines.next_record(line)
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvFileError(f"{source_name}, line {line}: the CSV is malformed ({error}).") from None
        if any(cell.strip() for cell in record):
            yield line, record


def first_line(stream: IO[str], source_name: str) -> str:
    """The first line that is not blank (the header), read with the same bound as any record."""
    while line := stream.readline(MAX_RECORD_CHARS + 1):
        if len(line) > MAX_RECORD_CHARS:
            raise CsvFileError(
                f"{source_name}: the first line is longer than {MAX_RECORD_CHARS:,} characters. The first line must "
                "be the header, naming the columns, and end with a line break. Is this the right file?"
            )
        if line.strip():
            return line
    raise CsvFileError(f"{source_name} is empty. Its first line must be the header, naming the columns.")


WIDTH_KIND = "a wrong number of cells"  # (a report's kind of problem, as width_problem finds it)


def width_problem(record: list[str], columns: list[str]) -> str | None:
    if len(record) == len(columns):
        return None
    return (
        f"has {len(record)} cells but the header has {len(columns)}; a value containing a comma must be in "
        "double quotes."
    )


def formula_escape(text: str) -> str:
    if text.startswith(FORMULA_STARTS) or _is_escaped(text):
        return "'" + text
    return text


def formula_unescape(text: str) -> str:
    return text[1:] if _is_escaped(text) else text


def _is_escaped(text: str) -> bool:
    return len(text) > 1 and text[0] == "'" and (text[1] in FORMULA_STARTS or text[1] == "'")

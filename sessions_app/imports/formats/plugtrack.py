"""PlugTrack's own sessions CSV (a RowSource): its 14 columns as it writes them, read as they are —
UTF-8, the header checked (columns in any order), each row's cells left for the engine's strict
widgets (ISO dates, decimal points), so that an export re-imports exactly."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..csv_format import CsvFileError, csv_records, header_read
from . import OpenedRows
from .mapped import text_open
from .shape import file_readable_check, first_undecodable_line


@dataclass
class PlugtrackRows:
    source: Path | str | IO[str]  # a file, or a text stream already open

    @contextmanager
    def open(self, name: str) -> Iterator[OpenedRows]:
        with self._text(name) as text:
            records = csv_records(text, name)
            yield OpenedRows(header_read(records, name), records, {})

    @contextmanager
    def _text(self, name: str) -> Iterator[IO[str]]:
        if not isinstance(self.source, str | Path):
            yield self.source
            return
        path = Path(self.source)
        _utf8_check(path, name)
        with text_open(path, "utf-8") as handle:
            yield handle


def _utf8_check(path: Path, name: str) -> None:
    """Refuse a missing, unreadable or non-UTF-8 file before reading any row (no rows held)."""
    file_readable_check(path)
    if (line := first_undecodable_line(path, "utf-8")) is not None:
        raise CsvFileError(
            f'{name} is not UTF-8 text (the first bad byte is on line {line}). Save it as "CSV UTF-8" and try again.'
        )

"""The file formats an import reads. Each is a RowSource: PlugTrack's own CSV (plugtrack.py), an
owner's file through a mapping — a spreadsheet or evcc's export — (mapped.py, with the headings of
spreadsheet.py and evcc.py, the mapping of mapping.py), and TeslaFi's polls rebuilt into sessions
(teslafi.py). detection.py says which one a file is; shape.py works out its encoding, delimiter,
decimal mark and date order, and the questions it cannot answer.

A RowSource turns a file into PlugTrack's own cells; what they mean and whether they are valid is
the import engine's job (importer.py), the same for every format.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

from ..importer import RowIssue


class OpenedRows(NamedTuple):
    columns: list[str]  # PlugTrack's columns, the order of each row's cells
    rows: Iterator[tuple[int, list[str]] | RowIssue]  # (line in the file, cells), or a row refused already
    detected: dict  # how the file was read (format, shape, mapping), said back in the report


class RowSource(Protocol):
    """A file read as PlugTrack's sessions. `open` reads what it must to know the file (its header,
    its shape) and gives its rows as they are read, so that memory does not grow with the file;
    it raises CsvFileError (or ShapeQuestion) for a file that cannot be read as a whole."""

    def open(self, name: str) -> AbstractContextManager[OpenedRows]:
        """`name`: the file as messages call it."""

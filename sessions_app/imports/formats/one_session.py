"""One session given field by field (the API's POST /sessions), read as a RowSource: its fields become
PlugTrack's cells exactly as an owner's file's do (mapped.RowConverter), so that the one import engine
checks it with the same rules and messages: an odometer in km converted to miles, costs in another
currency converted at the rate given, money rounded to the penny, and with the blank-odometer rule
"previous" the latest odometer stored before its date (odometer_history.py); each said in its notes.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cars_app.models import Car

from ..choices import ImportChoices
from ..csv_format import FIELDS, HEADER, TIME_COLUMNS
from ..importer import RowIssue
from . import OpenedRows
from .mapped import RowConverter
from .mapping import ColumnMapping
from .odometer_history import OdometerHistory
from .shape import FileShape

FORMAT = "api"  # as the import's record names how its sessions came


@dataclass
class OneSession:
    """`fields`: PlugTrack's column (csv_format.FIELDS) → its text, a missing one blank; dates ISO, times
    ISO 8601 with their offset. `odometer_unit`: "miles" or "km". `choices`: the currency of its costs and
    its rate, and the rule for a blank odometer ("error" or "previous"). `detected`: what the import's
    record keeps of where it came from (besides the format)."""

    fields: dict[str, str]
    car: Car
    choices: ImportChoices
    odometer_unit: str = "miles"
    detected: dict | None = None
    line: int = 1

    @contextmanager
    def open(self, name: str) -> Iterator[OpenedRows]:
        mapping = ColumnMapping(
            headings={column: column for column in HEADER},
            units={"odometer": self.odometer_unit} if self.odometer_unit != "miles" else {},
        )
        shape = FileShape(encoding="utf-8", delimiter=",", date_order="ymd")
        converter = RowConverter(shape, mapping, {column: index for index, column in enumerate(HEADER)}, self.choices)
        converter.blank_said = "odometer not given (the rule: the previous session's)"
        if self.choices.blank_odometer == "previous":
            converter.history = OdometerHistory(self.car)  # the car's stored sessions only: no file rows
            converter.history.indexed()
        try:
            cells = converter(self.line, [self.fields.get(column, "") for column in HEADER])
            row = cells if isinstance(cells, RowIssue) else (self.line, cells + [self.fields.get(column, "")
                                                                                 for column in TIME_COLUMNS])
            detected = {"format": FORMAT, "money": self.choices.describe_money(),
                        "blank_odometer": self.choices.blank_odometer, **(self.detected or {})}  # fmt: skip
            yield OpenedRows(list(FIELDS), iter([row]), detected)
        finally:
            if converter.history:
                converter.history.close()

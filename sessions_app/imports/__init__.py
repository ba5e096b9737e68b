"""The import machinery: files of sessions in and out. What other apps may use (a backup's restore,
the API) is named here; the modules behind it are this package's own.

- The engine: `importer.py` (rows → checked sessions, written in chunks; the report), with
  `resources.py` and `widgets.py` (a row's cells typed and checked), `seen_keys.py` (the duplicate
  keys of a file, on disk), `batches.py` (an import's record, and undo), `csv_format.py` (the CSV
  as a file: header, bounded records, formula escaping).
- Files: `csv_io.py` (import and export of a file), `formats/` (how each kind of file is read:
  PlugTrack's own, a spreadsheet, evcc's, TeslaFi's; and one session posted to the API),
  `choices.py` (the person's answers to a file's questions), `asks.py` (the choices its messages ask
  for, named for the command line and for the admin), `mapping_profiles.py` (saved mappings),
  `preview.py` (the admin's first look), `jobs.py` (an import as a background job).
"""

from .batches import ImportSource, import_recorded
from .choices import ImportChoices
from .csv_format import FIELDS, HEADER, CsvFileError, csv_records, width_problem
from .csv_io import charging_sessions_csv, sessions_csv_name
from .formats.one_session import OneSession
from .importer import (
    MAX_ROWS,
    EngineOptions,
    ImportReport,
    RowIssue,
    charging_sessions_rows_import,
    issues_labelled,
)
from .resources import ChargingSessionResource

__all__ = [
    "FIELDS", "HEADER", "MAX_ROWS", "ChargingSessionResource", "CsvFileError", "EngineOptions", "ImportChoices",
    "ImportReport", "ImportSource", "OneSession", "RowIssue", "charging_sessions_csv", "charging_sessions_rows_import",
    "csv_records", "import_recorded", "issues_labelled", "sessions_csv_name", "width_problem",
]  # fmt: skip

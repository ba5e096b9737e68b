"""The backup ZIP format: its members, columns, limits and schema versions.

SCHEMA_VERSION goes up by one whenever a backed-up model changes (a test compares the models
with SCHEMA_FINGERPRINT and fails until it is bumped), and UPGRADES gets the step that maps a
backup of the previous version onto the new one. Newer backups than this code are refused.
"""

from collections.abc import Callable

from sessions_app.imports import FIELDS as SESSION_COLUMNS
from sessions_app.imports import HEADER, MAX_ROWS

APP_NAME = "PlugTrack"
SCHEMA_VERSION = 4
# Field names and types of Car, ChargingSession and Setting that a backup carries (the editable ones;
# what PlugTrack maintains itself is recomputed by a restore); see tests/backups/test_schema.py.
SCHEMA_FINGERPRINT = "c34bfaf8e864f745"

MANIFEST = "manifest.json"
SCHEMA_VERSION_FILE = "schema_version.txt"
SESSIONS = "sessions.csv"
CARS = "cars.csv"
SETTINGS = "settings.json"
MEMBERS = (MANIFEST, SCHEMA_VERSION_FILE, SESSIONS, CARS, SETTINGS)

# The seed's cars header, then `active` (schema 2), so that a backup loses nothing.
CARS_COLUMNS = (
    "id",
    "name",
    "make",
    "model",
    "battery_kwh",
    "efficiency_mpkwh",
    "recommended_full_charge_enabled",
    "recommended_full_charge_frequency_value",
    "recommended_full_charge_frequency_unit",
    "notes",
    "active",
)
# The session columns of the CSV import, after the id of the session's car in cars.csv: the 14, and
# from schema 4 each session's start and end.
SESSIONS_COLUMNS = ("car_id", *SESSION_COLUMNS)

# Limits for an untrusted ZIP (documented in docs/backups.md), each checked while reading, before
# anything heavy is done. 500,000 sessions take about 75 MB of sessions.csv.
MEMBER_MAX_BYTES = {
    MANIFEST: 64 * 1024,
    SCHEMA_VERSION_FILE: 1024,
    SESSIONS: 512 * 1024 * 1024,
    CARS: 16 * 1024 * 1024,  # MAX_CARS cars with their longest notes
    SETTINGS: 1024 * 1024,
}
MAX_CARS = 1000
# A restore imports the sessions: it reads as many as one import, checked against the manifest's count
# before sessions.csv is read, and as it is (an account with more is backed up, but restored only with
# the limit raised).
MAX_SESSIONS = MAX_ROWS
MAX_ZIP_ENTRIES = 100  # a backup has 5; more than this is not worth reading the directory of
MAX_JSON_DEPTH = 10  # manifest.json and settings.json are 3 levels deep
MAX_COMPRESSION_RATIO = 100  # CSV compresses about 10:1; a bomb by thousands
RATIO_CHECK_FROM_BYTES = 1024 * 1024


def _upgrade_1_to_2(cars_rows: list[dict]) -> None:
    """Schema 1 (the seed's format) had no `active` column: every car was active."""
    for row in cars_rows:
        row.setdefault("active", "1")


def _upgrade_2_to_3(cars_rows: list[dict]) -> None:
    """Schema 3 limits notes to NOTES_MAX_CHARS; the files are alike. A longer note in an older
    backup is reported as an invalid row, never cut."""


def _upgrade_3_to_4(cars_rows: list[dict]) -> None:
    """Schema 4 gives sessions a start and an end (started_at, ended_at). Its cars are alike; an older
    sessions.csv has the 14 columns only (SESSIONS_COLUMNS_BY_VERSION), and the import engine takes a
    row without the times as a session without them: nothing to map."""


# version -> the step that turns the cars rows of a backup of that version into those of version + 1.
# (sessions.csv of every version is read by the import engine, which takes the 14 columns with or
# without the times; settings.json has not changed.)
UPGRADES: dict[int, Callable[[list[dict]], None]] = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3, 3: _upgrade_3_to_4}
CARS_COLUMNS_BY_VERSION = {1: CARS_COLUMNS[:-1], 2: CARS_COLUMNS, 3: CARS_COLUMNS, 4: CARS_COLUMNS}
SESSIONS_COLUMNS_BY_VERSION = {1: ("car_id", *HEADER), 2: ("car_id", *HEADER), 3: ("car_id", *HEADER),
                               4: SESSIONS_COLUMNS}  # fmt: skip

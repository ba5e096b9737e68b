"""The backup ZIP format: its members, columns, limits and schema versions.

SCHEMA_VERSION goes up by one whenever a backed-up model changes (a test compares the models
with SCHEMA_FINGERPRINT and fails until it is bumped), and UPGRADES gets the step that maps a
backup of the previous version onto the new one. Newer backups than this code are refused.
"""

from collections.abc import Callable

from sessions_app.resources import HEADER as SESSION_COLUMNS

APP_NAME = "PlugTrack"
SCHEMA_VERSION = 2
# Field names and types of Car, ChargingSession and Setting; see tests/backups/test_schema.py.
SCHEMA_FINGERPRINT = "cef94c45c1c5b1ca"

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
# The session columns of the CSV import, after the id of the session's car in cars.csv.
SESSIONS_COLUMNS = ("car_id", *SESSION_COLUMNS)

# Limits for an untrusted ZIP (documented in the README). 500,000 sessions take about 75 MB.
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_SMALL_MEMBER_BYTES = 16 * 1024 * 1024  # everything but sessions.csv
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100  # CSV compresses about 10:1; a bomb by thousands
RATIO_CHECK_FROM_BYTES = 1024 * 1024


def _upgrade_1_to_2(cars_rows: list[dict]) -> None:
    """Schema 1 (the seed's format) had no `active` column: every car was active."""
    for row in cars_rows:
        row.setdefault("active", "1")


# version -> the step that turns the cars rows of a backup of that version into those of version + 1.
# (No change has touched sessions.csv or settings.json yet; a step that must will widen this.)
UPGRADES: dict[int, Callable[[list[dict]], None]] = {1: _upgrade_1_to_2}
CARS_COLUMNS_BY_VERSION = {1: CARS_COLUMNS[:-1], 2: CARS_COLUMNS}

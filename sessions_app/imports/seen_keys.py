"""The duplicate keys of the rows already taken from a file, kept out of memory, and the
plausibility checks of those rows against the car's stored sessions.

A file of half a million sessions would hold half a million keys; in a temporary SQLite file
(deleted when closed, apart from the app's database) memory stays flat however long the file is.
One store serves a whole import or restore: each car's keys are kept apart by a `scope`, so a
restore of many cars opens one store, not one per car. With each new row's key goes its line in
the file; with the car's stored sessions' keys beside them (`add_stored`), the store works out
which new rows the plausibility checks will flag once written (`flagged`), before anything is
written (a dry run's report says so too).
"""

import datetime as dt
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from plugtrack_site.numbers import decimal_text

from ..models import KWH_UNITS, kwh_units
from ..plausibility import CHECKS_SQL, Neighbour

Key = tuple  # (date, odometer, charge_delivered_kwh)


def _stored(key: Key) -> tuple[int, int, str]:
    """The key exactly as Decimal equality sees it: 30.500 and 30.5 are one key, so are -0 and 0
    (no rounding, unlike Decimal.normalize, which keeps 28 digits)."""
    date, odometer, kwh = key
    return date.toordinal(), odometer, decimal_text(kwh)


@dataclass(frozen=True)
class FlaggedRow:
    """A new row the checks flag, or a stored session that a new row next to it (at `line`) flags anew."""

    line: int
    checks: int  # a stored session's: only those it did not have before
    odometer: int
    kwh: Decimal
    previous: Neighbour | None
    following: Neighbour | None
    stored: Neighbour | None = None  # the stored session, when it is one


def _neighbour_of(day: int | None, odometer: int | None, kwh: str | None) -> Neighbour | None:
    return None if day is None else Neighbour(dt.date.fromordinal(day), odometer, Decimal(kwh))


def temporary_database(prefix: str) -> sqlite3.Connection:
    """A new SQLite file of one's own, gone once closed: no journal, no waiting for the disk."""
    descriptor, path = tempfile.mkstemp(prefix=prefix, suffix=".sqlite3")
    db = sqlite3.connect(path)
    os.close(descriptor)
    os.unlink(path)  # the open connection keeps the file; nothing is left behind, even on a crash
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


class SeenKeys:
    def __init__(self):
        self.closed = False
        self._db = temporary_database("plugtrack-keys-")
        self._db.execute(
            "CREATE TABLE seen (scope INTEGER, day INTEGER, odometer INTEGER, kwh TEXT, line INTEGER, "
            "PRIMARY KEY (scope, day, odometer, kwh)) WITHOUT ROWID"
        )
        self._db.execute(
            "CREATE TABLE stored (scope INTEGER, id INTEGER, day INTEGER, odometer INTEGER, kwh TEXT, checks INTEGER)"
        )
        self._db.execute("CREATE INDEX stored_scope ON stored (scope)")  # a restore checks car after car
        self._db.execute("CREATE TEMP TABLE probe (day INTEGER, odometer INTEGER, kwh TEXT)")

    def among(self, keys: Iterable[Key], *, scope: int) -> set[Key]:
        """Those of `keys` seen before in `scope`."""
        by_stored: dict[tuple, list[Key]] = {}
        for key in keys:
            by_stored.setdefault(_stored(key), []).append(key)
        self._db.execute("DELETE FROM probe")
        self._db.executemany("INSERT INTO probe VALUES (?, ?, ?)", by_stored)
        found = self._db.execute(
            "SELECT day, odometer, kwh FROM probe JOIN seen USING (day, odometer, kwh) WHERE scope = ?", (scope,)
        )
        return {key for row in found for key in by_stored[tuple(row)]}

    def add(self, keys: Iterable[tuple[Key, int]], *, scope: int) -> None:
        """Keys of new rows, each with its line in the file."""
        self._db.executemany(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", ((scope, *_stored(key), line) for key, line in keys)
        )

    def add_stored(self, sessions: Iterable[tuple[int, Key, int]], *, scope: int) -> None:
        """The car's stored sessions: id (their order among equal dates and odometers), key and flags."""
        self._db.executemany(
            "INSERT INTO stored VALUES (?, ?, ?, ?, ?, ?)",
            ((scope, pk, *_stored(key), checks) for pk, key, checks in sessions),
        )

    def dates(self, *, scope: int) -> tuple[dt.date, dt.date] | None:
        """The first and last dates of the new rows of `scope`; None without any."""
        first, last = self._db.execute("SELECT MIN(day), MAX(day) FROM seen WHERE scope = ?", (scope,)).fetchone()
        return None if first is None else (dt.date.fromordinal(first), dt.date.fromordinal(last))

    def flagged(self, *, scope: int, battery_kwh: Decimal) -> Iterator[FlaggedRow]:
        """The new rows of `scope` that the plausibility checks flag among the stored sessions and each
        other, in the order the database will have them (stored ones first among equals), and the
        stored sessions next to a new row that it flags for something new; by line."""
        rows = self._db.execute(
            "WITH rows AS ("
            "  SELECT day, odometer, kwh, 0 AS is_new, id AS position, NULL AS line, checks AS checks_before "
            "  FROM stored WHERE scope = :scope "
            "  UNION ALL SELECT day, odometer, kwh, 1, line, line, 0 FROM seen WHERE scope = :scope), "
            "neighbours AS ("
            "  SELECT line, checks_before, odometer, kwh, "
            f"         CAST(ROUND(CAST(kwh AS REAL) * {KWH_UNITS}) AS INTEGER) AS kwh_units, "
            "         :battery AS battery_units, "
            "         NULL AS price_units, NULL AS cost_units, NULL AS ceiling_units, "  # (bounds: refused, not here)
            "         LAG(odometer) OVER chronological AS odometer_before, LAG(day) OVER chronological AS day_before, "
            "         LAG(kwh) OVER chronological AS kwh_before, LEAD(odometer) OVER chronological AS odometer_after, "
            "         LEAD(day) OVER chronological AS day_after, LEAD(kwh) OVER chronological AS kwh_after, "
            "         COALESCE(LAG(line) OVER chronological, LEAD(line) OVER chronological) AS line_next_to, "
            "         COUNT(*) OVER (PARTITION BY day, odometer) AS same_date_odometer, day "
            "  FROM rows WINDOW chronological AS (ORDER BY day, odometer, is_new, position)) "
            "SELECT COALESCE(line, line_next_to), line IS NULL, checks & ~checks_before, day, odometer, kwh, "
            "       day_before, odometer_before, kwh_before, day_after, odometer_after, kwh_after "
            f"FROM (SELECT *, {CHECKS_SQL} AS checks FROM neighbours) AS checked "
            "WHERE (checks & ~checks_before) > 0 AND (line IS NOT NULL OR line_next_to IS NOT NULL) "
            "ORDER BY COALESCE(line, line_next_to), line IS NULL",
            {"scope": scope, "battery": kwh_units(battery_kwh)},
        )
        for line, stored, checks, day, odometer, kwh, *neighbours in rows:
            previous, following = _neighbour_of(*neighbours[:3]), _neighbour_of(*neighbours[3:])
            itself = _neighbour_of(day, odometer, kwh) if stored else None
            yield FlaggedRow(line, checks, odometer, Decimal(kwh), previous, following, itself)

    def close(self) -> None:
        self._db.close()
        self.closed = True

"""The duplicate keys of the rows already taken from a file, kept out of memory.

A file of half a million sessions would hold half a million keys; in a temporary SQLite file
(deleted when closed, apart from the app's database) memory stays flat however long the file is.
One store serves a whole import or restore: each car's keys are kept apart by a `scope`, so a
restore of many cars opens one store, not one per car.
"""

import os
import sqlite3
import tempfile
from collections.abc import Iterable

Key = tuple  # (date, odometer, charge_delivered_kwh)


def _stored(key: Key) -> tuple[int, int, str]:
    """The key exactly as Decimal equality sees it: 30.500 and 30.5 are one key, so are -0 and 0
    (no rounding, unlike Decimal.normalize, which keeps 28 digits)."""
    date, odometer, kwh = key
    text = format(kwh, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return date.toordinal(), odometer, "0" if text == "-0" else text


class SeenKeys:
    def __init__(self):
        self.closed = False
        descriptor, path = tempfile.mkstemp(prefix="plugtrack-keys-", suffix=".sqlite3")
        self._db = sqlite3.connect(path)
        os.close(descriptor)
        os.unlink(path)  # the open connection keeps the file; nothing is left behind, even on a crash
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE seen (scope INTEGER, day INTEGER, odometer INTEGER, kwh TEXT, "
            "PRIMARY KEY (scope, day, odometer, kwh)) WITHOUT ROWID"
        )
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

    def add(self, keys: Iterable[Key], *, scope: int) -> None:
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", ((scope, *_stored(key)) for key in keys))

    def close(self) -> None:
        self._db.close()
        self.closed = True

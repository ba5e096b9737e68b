"""The odometers known before a date, for the blank-odometer rule "previous": a session whose
odometer the file leaves blank (evcc could not read the car; Tesla's charging report has none)
takes the latest odometer of the sessions dated before it, in the file or already stored — never a
later one, whatever the file's order (evcc writes its newest session first).

"Before" is an earlier date, or the same date at an earlier time when both the file's rows have a
time. The file's rows are kept in a temporary SQLite file (as seen_keys.py does), so memory does not
grow with the file; the car's stored sessions are looked up as needed.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ..seen_keys import temporary_database

# The car's latest stored session dated before a day: (its date, its odometer), or None.
StoredBefore = Callable[[dt.date], tuple[dt.date, int] | None]


@dataclass(frozen=True)
class KnownOdometer:
    date: dt.date
    odometer: int
    line: int | None  # the file's line; None for a stored session

    def __str__(self) -> str:
        where = f"on line {self.line}" if self.line else "stored already"
        return f"the session of {self.date:%d %b %Y} ({where})"


class OdometerHistory:
    def __init__(self, stored_before: StoredBefore | None = None):
        self.stored_before = stored_before
        self._db = temporary_database("plugtrack-odometers-")
        # day: ISO date; time: "HH:MM:SS", or "" when the row has none
        self._db.execute("CREATE TABLE known (day TEXT, time TEXT, odometer INTEGER, line INTEGER)")

    def add(self, day: dt.date, time: str, odometer: int, line: int) -> None:
        """A row of the file with its odometer."""
        self._db.execute("INSERT INTO known VALUES (?, ?, ?, ?)", (day.isoformat(), time, odometer, line))

    def indexed(self) -> None:
        """Once every row is added: looked up by date from here on."""
        self._db.execute("CREATE INDEX known_by_moment ON known (day, time)")

    def before(self, day: dt.date, time: str) -> KnownOdometer | None:
        """The latest odometer known before `day` (and `time`, when given): the file's or a stored session's."""
        found = self._db.execute(
            "SELECT day, odometer, line FROM known WHERE day < :day OR (day = :day AND :time != '' AND time != '' "
            "AND time < :time) ORDER BY day DESC, time DESC, odometer DESC LIMIT 1",
            {"day": day.isoformat(), "time": time},
        ).fetchone()
        in_file = found and KnownOdometer(dt.date.fromisoformat(found[0]), found[1], found[2])
        stored = self.stored_before(day) if self.stored_before else None
        stored = stored and KnownOdometer(stored[0], stored[1], None)
        candidates = [known for known in (in_file, stored) if known]
        return max(candidates, key=lambda known: (known.date, known.odometer), default=None)

    def close(self) -> None:
        self._db.close()

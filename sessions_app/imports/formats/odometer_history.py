"""The odometers known before a date, for the blank-odometer rule "previous": a session whose
odometer the file leaves blank (evcc could not read the car; Tesla's charging report has none)
takes the latest odometer of the sessions dated before it, in the file or already stored — never a
later one, whatever the file's order (evcc writes its newest session first).

"Before" is an earlier date, or the same date at an earlier time when both the file's rows have a
time. A blank-odometer row that is a session stored already (the same day and energy: the file
imported before) takes that session's odometer, so that importing the file again adds nothing; two
such rows of one file with the same day and energy cannot be told apart, and the second is refused.
The file's rows are kept in a temporary SQLite file (as seen_keys.py does), so memory does not grow
with the file; the car's stored sessions are looked up as needed.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.dates import date_text
from plugtrack_site.numbers import decimal_text

from ..seen_keys import temporary_database


@dataclass(frozen=True)
class KnownOdometer:
    date: dt.date
    odometer: int
    line: int | None  # the file's line; None for a stored session

    def __str__(self) -> str:
        where = f"on line {self.line}" if self.line else "stored already"
        return f"the session of {date_text(self.date)} ({where})"


class OdometerHistory:
    def __init__(self, car: Car | None = None):
        self.car = car if car is not None and car.pk is not None else None  # (None: nothing stored to look at)
        self.started = timezone.now()  # what was stored before this import (not what it writes as it goes)
        self._db = temporary_database("plugtrack-odometers-")
        # day: ISO date; time: "HH:MM:SS", or "" when the row has none
        self._db.execute("CREATE TABLE known (day TEXT, time TEXT, odometer INTEGER, line INTEGER)")
        self._db.execute("CREATE TABLE blank (day TEXT, kwh TEXT, line INTEGER, PRIMARY KEY (day, kwh))")

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
        stored = self.car and self.car.sessions.filter(date__lt=day).order_by("-date", "-odometer").first()
        stored = stored and KnownOdometer(stored.date, stored.odometer, None)
        candidates = [known for known in (in_file, stored) if known]
        return max(candidates, key=lambda known: (known.date, known.odometer), default=None)

    def stored_same(self, day: dt.date, kwh: Decimal) -> int | None:
        """The odometer of the stored session of `day` with `kwh`: the same session, imported before."""
        if self.car is None:
            return None
        sessions = self.car.sessions.filter(date=day, charge_delivered_kwh=kwh, created_at__lt=self.started)
        return sessions.values_list("odometer", flat=True).first()

    def blank_seen(self, day: dt.date, kwh: Decimal, line: int) -> int | None:
        """The line of an earlier blank-odometer row of the file with `day` and `kwh`, else None (and this
        row is remembered): two such rows would take the same odometer and be one session."""
        earlier = self._db.execute(
            "SELECT line FROM blank WHERE day = ? AND kwh = ?", (day.isoformat(), decimal_text(kwh))
        ).fetchone()
        if earlier is None:
            self._db.execute("INSERT INTO blank VALUES (?, ?, ?)", (day.isoformat(), decimal_text(kwh), line))
        return earlier and earlier[0]

    def close(self) -> None:
        self._db.close()

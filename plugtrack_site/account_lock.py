"""One writer per account: every bulk write of an owner's data runs inside `account_write_lock`.

Imports, restores, backups and the admin's single edits of one owner are serialised, so that an
operation reads what every earlier one committed, and a replace restore's automatic backup and
its wipe see the same data (nothing committed between them can be lost).

- PostgreSQL: a transaction-level advisory lock keyed by the user, waited for at most
  PLUGTRACK_LOCK_WAIT_SECONDS. It is taken in READ COMMITTED, so every later statement of the
  transaction sees what the previous holder committed.
- SQLite: every transaction begins with BEGIN IMMEDIATE (settings: transaction_mode), i.e. takes
  the database's one write lock up front, waiting at most the same time (the busy timeout).
  SQLite has one writer for the whole file, so there this also serialises different owners.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction

from .errors import PlugTrackError

# The first key of PlugTrack's advisory locks ("PTAC"), so they cannot clash with another
# application's locks on a shared PostgreSQL server; the second key is the user id.
_ADVISORY_NAMESPACE = 0x50544143
_POSTGRES_LOCK_NOT_AVAILABLE = "55P03"


class AccountBusy(PlugTrackError):
    """Another operation holds the account's write lock for longer than we may wait."""

    def __init__(self):
        holder = "on this account" if connection.vendor == "postgresql" else "on PlugTrack (SQLite has one writer)"
        super().__init__(
            f"Another import, restore or backup is running {holder}, and it did not finish within "
            f"{settings.PLUGTRACK_LOCK_WAIT_SECONDS:g} seconds. Nothing was changed: try again when it has finished."
        )


@contextmanager
def account_write_lock(*user_ids: int) -> Iterator[None]:
    """A transaction holding the write lock of each user's data until it commits or rolls back.

    Several users' locks (a superuser's edit across owners) are taken in one order, so that two
    such operations cannot deadlock. Re-entrant (an operation may call another that locks too).
    Raises AccountBusy when a lock cannot be had within PLUGTRACK_LOCK_WAIT_SECONDS.
    """
    acquired = timed_out = False
    try:
        with transaction.atomic():  # SQLite: BEGIN IMMEDIATE waits here for the write lock
            if connection.vendor == "postgresql":
                for user_id in sorted(set(user_ids)):
                    _advisory_lock(user_id)
            acquired = True
            yield
    except OperationalError as error:
        if acquired or not _is_lock_wait_timeout(error):
            raise
        timed_out = True
    if timed_out:  # raised here, not in the handler: the driver's error (and its cursor) can go now
        raise AccountBusy()


def _advisory_lock(user_id: int) -> None:
    # The bound stays for the rest of the transaction: a holder of the account's lock has no
    # reason to wait longer than that for any other lock either.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = %s", [f"{settings.PLUGTRACK_LOCK_WAIT_SECONDS * 1000:.0f}ms"])
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, user_id])


def _is_lock_wait_timeout(error: OperationalError) -> bool:
    if connection.vendor == "postgresql":
        return getattr(error.__cause__, "sqlstate", None) == _POSTGRES_LOCK_NOT_AVAILABLE
    return sqlite_busy(error)


def sqlite_busy(error: Exception) -> bool:
    """Whether `error` is SQLite's one write lock held by another writer past the busy timeout."""
    return isinstance(error, OperationalError) and "database is locked" in str(error)

"""Run PlugTrack in other processes against the test database: real concurrent operations, as
two terminals or a web server and a terminal would run them (not threads, not mocks)."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    """The URL of the test database this test process uses (committed data only is visible)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _environment(data_dir: Path, lock_wait_seconds: float, **more: str) -> dict[str, str]:
    return (
        os.environ
        | more
        | {
            "DJANGO_SETTINGS_MODULE": "plugtrack_site.settings_test",
            "DATABASE_URL": _database_url(),
            "PLUGTRACK_DATA_DIR": str(data_dir),
            "PLUGTRACK_LOCK_WAIT_SECONDS": str(lock_wait_seconds),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
    )


def manage(*args: str, data_dir: Path, lock_wait_seconds: float = 60, **environment: str) -> subprocess.Popen:
    """Start `manage.py <args>` in its own process (`environment`: more variables); read its
    outcome with `finished`."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=_environment(data_dir, lock_wait_seconds, **environment),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def python_module(module: str, *args: str, data_dir: Path, **environment: str) -> subprocess.Popen:
    """Start `python -m <module> <args>` in its own process against the test database, its stdin and
    stdout piped (text), e.g. to start several at one signal; read its outcome with `finished`."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=_environment(data_dir, lock_wait_seconds=60, **environment),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a process started by `manage`."""
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def finished_json(process: subprocess.Popen, timeout: float = 120) -> tuple[int, dict]:
    code, stdout, stderr = finished(process, timeout)
    assert stdout.strip(), f"no output (exit {code}): {stderr}"
    return code, json.loads(stdout)


class AccountLockHeld:
    """A separate process holding `user_id`'s write lock (through account_write_lock) until the
    block ends, so a test can show what another operation does meanwhile."""

    def __init__(self, user_id: int, *, data_dir: Path):
        self.user_id, self.data_dir = user_id, data_dir

    def __enter__(self) -> "AccountLockHeld":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.hold_account_lock", str(self.user_id)],
            cwd=REPO,
            env=_environment(self.data_dir, lock_wait_seconds=60),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        assert line.strip() == "locked", f"the lock holder did not start: {line!r}"
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.communicate("release\n", timeout=30)


def lock_waiters_wait(count: int, *, timeout: float = 60) -> None:
    """Return once `count` other processes wait for an account's write lock. PostgreSQL lists its
    waiters (pg_locks: advisory locks not granted, in this database); SQLite's writers poll its one
    lock unlisted, so there a process is given a few seconds to start and reach the lock."""
    if connection.vendor != "postgresql":
        time.sleep(3)
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, f"fewer than {count} processes waited for the lock in {timeout:g} s"
            time.sleep(0.1)


@contextmanager
def busy_timeout_of_one_second() -> Iterator[None]:
    """SQLite waits for its write lock as long as the connection's busy timeout (PostgreSQL: the setting)."""
    if connection.vendor != "sqlite":
        yield
        return
    options = connection.settings_dict["OPTIONS"]
    usual = options["timeout"]
    connection.close()
    options["timeout"] = 1
    try:
        yield
    finally:
        connection.close()
        options["timeout"] = usual

"""PlugTrack served for a benchmark: the web server and the background worker as real processes on
127.0.0.1, a logged-in owner, uploads streamed over HTTP as a browser sends them, and each
process's peak memory. Used by bench_hostile.py and bench_admin.py."""

import hashlib
import http.client
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
CSRF = "benchcsrfsecretbenchcsrfsecret01"  # a 32-character CSRF secret, sent as cookie and as field


def peak_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM; unlike ru_maxrss, not inherited from its parent)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


class _Process:
    def __init__(self, command: list[str], environment: dict):
        self.process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def peak_mb_reset(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # the peak starts again from now

    def peak_mb(self) -> float:
        return peak_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


class Server(_Process):
    """`manage.py runserver` (threads, no autoreload) on a free port of 127.0.0.1; with `gunicorn`,
    docs/deployment.md's production start instead (gunicorn with these options)."""

    def __init__(self, environment: dict, gunicorn: list[str] | None = None):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        address = f"127.0.0.1:{self.port}"
        if gunicorn is None:
            command = [sys.executable, str(REPO / "manage.py"), "runserver", address, "--noreload"]
        else:
            command = [sys.executable, "-m", "gunicorn", "plugtrack_site.wsgi", "--bind", address, *gunicorn]
        super().__init__(command, environment)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def _sent(self, method: str, url: str, cookies: str, body, headers: dict | None):
        """(connection, response) of a request sent as the logged-in owner; the caller reads and closes."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.request(method, url, body=body, headers={"Cookie": cookies, **(headers or {})})
        return connection, connection.getresponse()

    def request(self, method: str, url: str, cookies: str, body=None, headers: dict | None = None):
        """(status, Location header, page text) of one request."""
        connection, response = self._sent(method, url, cookies, body, headers)
        page = response.read().decode("utf-8", "replace")
        connection.close()
        return response.status, response.getheader("Location", ""), page

    def post_form(
        self, url: str, cookies: str, fields: dict[str, str], path: Path | None = None, file_field="", download=False
    ):
        """A form posted as a browser does: multipart, the file (if any) streamed from disk. With
        `download`, the response is read as a file is downloaded: (status, its size, its SHA-256)."""
        boundary = uuid.uuid4().hex
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (fields | {"csrfmiddlewaretoken": CSRF}).items()
        )
        if path:
            head += f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{path.name}"\r\n'
            head += "Content-Type: application/octet-stream\r\n\r\n"
        tail = f"{chr(13) + chr(10) if path else ''}--{boundary}--\r\n".encode()

        def body() -> Iterator[bytes]:
            yield head.encode()
            if path:
                with path.open("rb") as handle:
                    while chunk := handle.read(MB):
                        yield chunk
            yield tail

        length = len(head.encode()) + (path.stat().st_size if path else 0) + len(tail)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)}
        if download:
            return self.download("POST", url, cookies, body(), headers)
        return self.request("POST", url, cookies, body(), headers)

    def download(self, method: str, url: str, cookies: str, body=None, headers: dict | None = None):
        """(status, size, SHA-256) of a response read in chunks, as a browser saves a download."""
        connection, response = self._sent(method, url, cookies, body, headers)
        digest, size = hashlib.sha256(), 0
        while chunk := response.read(MB):
            digest.update(chunk)
            size += len(chunk)
        connection.close()
        return response.status, size, digest.hexdigest()

    def job_finished(self, job_url: str, cookies: str, poll_seconds: float = 0.1, timeout: float = 3600) -> str:
        """Wait for the job at `job_url` to finish (polling its progress as its page does); its page.
        Each poll is a request the server answers while the worker works, on the same cores."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, _, state = self.request("GET", job_url.removesuffix("change/") + "progress/", cookies)
            if json.loads(state)["status"] not in ("queued", "running"):
                return self.request("GET", job_url, cookies)[2]
            time.sleep(poll_seconds)
        raise TimeoutError(job_url)


class Worker(_Process):
    """`manage.py db_worker`, taking jobs as soon as they are queued."""

    def __init__(self, environment: dict):
        manage = [sys.executable, str(REPO / "manage.py")]
        super().__init__([*manage, "db_worker", "--no-startup-delay", "--interval", "0.05"], environment)


def confirm_url(page: str) -> str | None:
    """The confirm form's address on a job page, if it offers one."""
    found = re.search(r'<form method="post" action="([^"]+/confirm/)"', page)
    return found.group(1) if found else None


@dataclass
class SiteRun:
    workdir: Path  # a temporary folder of the run's own (its data folder is workdir/data)
    database_url: str  # a fresh database, dropped when the run ends
    environment: dict[str, str]  # what the run's processes run with (site_environment)


@contextmanager
def site_run(prefix: str, **more: str) -> Iterator[SiteRun]:
    """A benchmark run of the site: its own folder and fresh database (beside DATABASE_URL's, or a
    SQLite file), both gone afterwards."""
    from bench_io import database_for_run

    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        workdir = Path(temporary)
        database_url, drop = database_for_run(workdir)
        try:
            yield SiteRun(workdir, database_url, site_environment(database_url, workdir, **more))
        finally:
            drop()


def site_environment(database_url: str, workdir: Path, **more: str) -> dict[str, str]:
    """What the processes of a benchmark of the site run with: production settings (bench_io's), this
    run's database and folder, and `more`."""
    from bench_io import bench_environment

    return bench_environment(database_url, workdir) | {
        "DJANGO_SETTINGS_MODULE": "plugtrack_site.settings",
        "PYTHONPATH": str(REPO),
        **more,
    }


def site_set_up() -> None:
    """(In a child process, Django set up.) What the production set-up does before serving: migrate,
    and collect the static files (with DEBUG off, a page naming a static file not collected is an error)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)


def statistics_gathered() -> None:
    """(In a child process, Django set up.) After building the data: on PostgreSQL, VACUUM ANALYZE,
    as autovacuum does within a minute of such imports (planned without statistics, a page of a
    fleet's sessions took 600 ms instead of 90; before a vacuum, an index-only scan still visits
    the table)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def owner_with_a_car() -> dict:
    """(In a child process, Django set up.) The owner the benchmark acts as, with one car and a
    logged-in session: {"user_id", "car_id", "cookies"}."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from cars_app.models import Car
    from plugtrack_site.accounts import owner_account_ensure

    user, _ = owner_account_ensure(username="bench", password="bench-password-123")
    car, _ = Car.objects.get_or_create(
        user=user, name="Niro", make="Kia", model="Niro EV", defaults={"battery_kwh": 64.8}
    )
    session = SessionStore()
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash()})  # fmt: skip
    session.create()
    return {"user_id": user.pk, "car_id": car.pk, "cookies": f"sessionid={session.session_key}; csrftoken={CSRF}"}

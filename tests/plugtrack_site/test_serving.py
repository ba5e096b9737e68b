"""Served for real: gunicorn runs PlugTrack with the production settings and WhiteNoise serves its
static files (compressed, under names that change with their content); /healthz checks the database."""

import http.client
import json
import re
import socket
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet
from django.contrib.staticfiles import finders
from django.db import OperationalError
from django.urls import reverse

from ..processes import REPO, _environment


def test_healthz_says_ok_when_the_database_answers(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


class UnreachableDatabase:
    def cursor(self):
        raise OperationalError('connection to server at "db.internal" failed')


def test_healthz_says_so_when_the_database_cannot_be_reached(client, db, monkeypatch):
    monkeypatch.setattr("plugtrack_site.health.connection", UnreachableDatabase())
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}  # no host names to the world


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


@pytest.fixture
def production(tmp_path, transactional_db):
    """The environment of the documented production start (DEBUG off, secrets set), on the test database."""
    return _environment(tmp_path / "data", 30) | {
        "DJANGO_SETTINGS_MODULE": "plugtrack_site.settings",
        "DEBUG": "false",
        "SECRET_KEY": "a-production-like-secret-key-for-this-test-only-0123456789",
        "PLUGTRACK_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
    }


@pytest.mark.slow
def test_gunicorn_serves_the_admin_and_whitenoise_its_static_files(production):
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=REPO, env=production, check=True
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "plugtrack_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=REPO, env=production, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = get(port, "/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()[0]
                time.sleep(0.2)
        assert health.status == 200 and json.loads(health.body) == {"status": "ok", "database": "ok"}

        login = get(port, "/admin/login/")
        assert login.status == 200 and b"PlugTrack" in login.body
        [stylesheet] = re.findall(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body)  # hashed name
        css = get(port, stylesheet.decode(), **{"Accept-Encoding": "gzip"})
        assert css.status == 200 and css.getheader("Content-Encoding") == "gzip"
        assert "immutable" in css.getheader("Cache-Control")  # its name changes with its content
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_favicon_is_served_and_every_admin_page_links_it(owner_client):
    """Browsers ask every site for /favicon.ico: served (a 404 on every page otherwise), and linked as an SVG."""
    icon = owner_client.get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(icon.streaming_content) == (REPO / "plugtrack_site/root/favicon.ico").read_bytes()
    page = owner_client.get(reverse("admin:index")).content.decode()
    assert '<link rel="icon" href="/static/plugtrack/favicon.svg" type="image/svg+xml">' in page
    assert finders.find("plugtrack/favicon.svg")  # (collected with the others: the gunicorn test serves them)

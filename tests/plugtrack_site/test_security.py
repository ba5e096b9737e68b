"""Web hardening: login throttling, the production settings' deploy check, the CSP header."""

import datetime as dt
import os
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from ..processes import REPO

LOGIN = "admin:login"


def log_in(client, password: str, address: str = "203.0.113.7"):
    return client.post(
        reverse(LOGIN), {"username": "alice", "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def test_five_wrong_passwords_lock_the_login_for_a_quarter_of_an_hour(client, owner):
    for _ in range(4):
        assert log_in(client, "wrong").status_code == 200  # the login page again, with its error
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins for alice from this address" in locked.content.decode()

    refused = log_in(client, "alice-password")  # even the right password
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    assert log_in(client, "alice-password", address="198.51.100.2").status_code == 302  # another address

    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - dt.timedelta(minutes=16))
    assert log_in(client, "alice-password").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_behind_a_proxy_the_address_the_proxy_saw_is_the_one_locked(client, owner, settings):
    settings.BEHIND_PROXY = True
    for number in range(5):  # the client forges a new first address each time: in vain
        forwarded = f"10.0.0.{number}, 203.0.113.7"
        client.post(
            reverse(LOGIN), {"username": "alice", "password": "wrong"}, REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded,
        )  # fmt: skip
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
    assert log_in(client, "alice-password", address="127.0.0.1").status_code == 302  # no proxy header: 127.0.0.1


@pytest.mark.slow
def test_the_documented_production_settings_pass_the_deploy_check():
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "k" * 20 + "a-long-random-production-key-0123456789",
        "PLUGTRACK_ENCRYPTION_KEYS": "9qn4U-HwRM-M28xFa4T8ZmYx2Ou7aHh17qV_hq-hxW8=",
        "ALLOWED_HOSTS": "plugtrack.example.org",
        "HTTPS": "true",
        "HSTS_PRELOAD": "true",
        "BEHIND_PROXY": "true",
    }
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=environment | production, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout

    plain = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=REPO, env=environment | production | {"HTTPS": "false"}, capture_output=True, text=True,
    )  # fmt: skip
    assert "security.W008" in plain.stderr  # without the switch, the check says what is missing


def test_every_page_carries_the_content_security_policy(owner_client):
    policy = owner_client.get("/admin/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"

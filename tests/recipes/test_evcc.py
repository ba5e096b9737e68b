"""docs/recipes/evcc_to_plugtrack.py, run as cron runs it (a process of its own) against a local HTTP server
that answers as evcc does (tests/recipes/evcc_sessions.json: evcc's GET /api/sessions?format=json, newest
first, times to the nanosecond with their offsets, the odometer in km, chargeDuration in nanoseconds, one
session still charging) and PlugTrack's API served for real (pytest-django's live_server), with a token."""

import ast
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from api.services import api_token_create
from sessions_app.models import ChargingSession

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "evcc_to_plugtrack.py"
SESSIONS = json.loads((Path(__file__).parent / "evcc_sessions.json").read_text())

pytestmark = pytest.mark.slow  # a live server and a process per run: seconds


class Evcc:
    """An evcc on 127.0.0.1: its sessions (bare, as newer versions answer, or {"result": …}, as older ones
    do) and its state's currency."""

    def __init__(self, sessions, *, wrapped: bool = False, currency: str = "EUR"):
        self.sessions, self.wrapped, self.currency, self.asked = sessions, wrapped, currency, []
        evcc = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                evcc.asked.append(self.path)
                if url.path == "/api/sessions" and parse_qs(url.query).get("format") == ["json"]:
                    data = evcc.sessions
                elif url.path == "/api/state":
                    data = {"currency": evcc.currency, "siteTitle": "Home", "loadpoints": [{"title": "Garage"}]}
                else:
                    self.send_error(404)
                    return
                body = json.dumps({"result": data} if evcc.wrapped else data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def evcc():
    servers = []

    def start(sessions=SESSIONS, **options) -> Evcc:
        servers.append(Evcc(sessions, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def niro(owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    make_session(car, "2026-03-20", 12300)  # before evcc's: the odometer "previous" takes
    return car


@pytest.fixture
def token(owner, niro):
    return api_token_create(user=owner, name="evcc script", scopes=["sessions:write"], car_ids=[niro.pk]).secret


def run(*args: str, token: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"} | ({"PLUGTRACK_TOKEN": token} if token else {})
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


def stored(car) -> list[tuple]:
    return [(str(s.date), s.odometer, s.charge_delivered_kwh, s.total_cost_gbp, s.duration_mins, s.soc_from,
             s.soc_to, s.location_label, getattr(getattr(s, "external", None), "external_id", None))
            for s in ChargingSession.objects.filter(car=car).select_related("external").order_by("date")]  # fmt: skip


def test_finished_sessions_are_stored_once_whatever_is_run_again(live_server, evcc, niro, token, tmp_path):
    server = evcc()
    state = tmp_path / "evcc-state.json"
    common = ["--evcc", server.url, "--plugtrack", live_server.url, "--car", f"Niro EV={niro.pk}"]
    first = run(*common, "--car", "Guest=skip", "--rate", "0.86", "--state", str(state), token=token)

    assert first.returncode == 0, first.stderr + first.stdout
    assert first.stdout.splitlines()[-1] == "3 sent, 0 stored already, 0 refused, 0 no car, 1 still charging."
    assert stored(niro) == [
        ("2026-03-20", 12300, Decimal("30.000"), None, None, None, None, "", None),
        # 19,872 km; €9.15 at 0.86; 24,165 s
        ("2026-03-27", 12348, Decimal("30.516"), Decimal("7.87"), 403, 20, 67, "Garage", "evcc-311"),
        ("2026-03-31", 12398, Decimal("23.916"), Decimal("2.96"), 305, 44, 80, "Garage", "evcc-312"),
        ("2026-04-02", 12398, Decimal("36.100"), Decimal("9.31"), 331, 30, 85, "Garage", "evcc-313"),  # previous
    ]
    evcc_313 = ChargingSession.objects.get(external__external_id="evcc-313")
    assert evcc_313.started_at == dt.datetime(2026, 4, 2, 17, 2, 11, tzinfo=dt.UTC)
    assert evcc_313.ended_at == dt.datetime(2026, 4, 2, 22, 41, 57, tzinfo=dt.UTC)
    assert "evcc session 313, vehicle Niro EV, solar 10 %" in evcc_313.notes
    assert "12,398 mi taken from the session of 31 Mar 2026" in evcc_313.notes
    assert json.loads(state.read_text()) == {"last_id": 314, "evcc": server.url}  # 315 is still charging
    assert "/api/state" in server.asked  # the prices' currency, evcc's own

    # again without the state: the same requests, answered again (Idempotent-Replayed), nothing stored
    again = run(*common, "--car", "Guest=skip", "--rate", "0.86", token=token)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "0 sent, 3 stored already, 0 refused, 0 no car, 1 still charging."
    assert "evcc 311: sent before (PlugTrack session" in again.stdout
    # another body (its costs left out, another label): a new key, and PlugTrack's 409 for the external_id
    other = run(*common, "--car", "Guest=skip", "--currency", "none", "--location", "Home", token=token)
    assert other.returncode == 0, other.stderr
    assert other.stdout.splitlines()[-1] == "0 sent, 3 stored already, 0 refused, 0 no car, 1 still charging."
    assert "evcc 312: stored already (PlugTrack session" in other.stdout
    # with the state: nothing asked of PlugTrack
    remembered = run(*common, "--car", "Guest=skip", "--rate", "0.86", "--state", str(state), token=token)
    assert remembered.stdout.splitlines()[-1] == "0 sent, 0 stored already, 0 refused, 0 no car, 1 still charging."
    assert len(stored(niro)) == 4

    # the charge in progress ends: the next run sends it
    finished = [dict(SESSIONS[0], finished="2026-04-05T21:20:00.5+01:00", chargedEnergy=24.6, meterStop=4333.0)]
    server.sessions = finished + SESSIONS[1:]
    last = run(*common[:4], "--car", str(niro.pk), "--car", "Guest=skip", "--currency", "none", "--state",
               str(state), token=token)  # fmt: skip
    assert last.returncode == 0, last.stderr
    assert last.stdout.splitlines()[-1] == "1 sent, 0 stored already, 0 refused, 0 no car, 0 still charging."
    assert json.loads(state.read_text())["last_id"] == 315
    assert stored(niro)[-1][:2] == ("2026-04-05", 12435)
    elsewhere = run("--evcc", evcc().url, *common[2:], "--state", str(state), token=token)
    assert elsewhere.returncode == 1
    assert f"The state file {state} is another evcc's ({server.url}): give another --state." in elsewhere.stderr


def test_older_evccs_result_wrapper_a_refused_session_and_a_vehicle_without_a_car(live_server, evcc, owner, make_car):
    niro = make_car(owner, name="Niro")  # no session before evcc's
    token = api_token_create(user=owner, name="evcc script", scopes=["sessions:write"]).secret
    no_odometer = [dict(SESSIONS[-1], odometer=None)]  # the car's first session: the rule "previous" has none
    server = evcc(SESSIONS[:-1] + no_odometer, wrapped=True)
    common = ["--evcc", server.url, "--plugtrack", live_server.url, "--currency", "none"]
    result = run(*common, token=token)  # the token's only car: every vehicle's

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "3 sent, 0 stored already, 1 refused, 0 no car, 1 still charging."
    refused = result.stdout.split("evcc 311: refused (HTTP 422): ")[1]
    assert refused.splitlines()[1].startswith("  odometer: ")
    assert [row[-1] for row in stored(niro)] == ["evcc-312", "evcc-313", "evcc-314"]

    zoe = make_car(owner, name="Zoe", make="Renault", model="Zoe")
    asked = run(*common, token=token)
    assert asked.returncode == 1
    assert f"This token may use 2 cars ({niro.pk} Niro, {zoe.pk} Zoe): say which car each evcc vehicle is" in (
        asked.stderr
    )
    by_title = run(*common, "--car", f"Niro EV={niro.pk}", token=token)
    assert by_title.returncode == 1
    assert 'evcc 314: the vehicle "Guest" has no car: give --car "Guest=ID" (or "Guest=skip").' in by_title.stdout
    assert by_title.stdout.splitlines()[-1] == "0 sent, 2 stored already, 1 refused, 1 no car, 1 still charging."
    assert len(stored(niro)) == 3


def test_failures_say_what_to_do(live_server, evcc, niro, token, tmp_path):
    server = evcc()
    no_token = run("--evcc", server.url, "--plugtrack", live_server.url, token=None)
    assert no_token.returncode == 2
    assert "no PlugTrack token: set PLUGTRACK_TOKEN" in no_token.stderr

    wrong = run("--evcc", server.url, "--plugtrack", live_server.url, token="pt_000000000000_wrong")
    assert wrong.returncode == 1
    assert "PlugTrack refused the token" in wrong.stderr

    closed = evcc()
    closed.close()
    unreachable = run("--evcc", closed.url, "--plugtrack", live_server.url, token=token)
    assert unreachable.returncode == 1
    assert f"Could not reach evcc at {closed.url}/api/sessions?format=json" in unreachable.stderr

    not_evcc = run("--evcc", live_server.url, "--plugtrack", live_server.url, token=token)
    assert not_evcc.returncode == 1
    assert "is that its address?" in not_evcc.stderr

    strange = run("--evcc", evcc([{"id": "311", "created": "2026-03-27"}]).url, "--plugtrack", live_server.url,
                  token=token)  # fmt: skip
    assert strange.returncode == 1
    assert "/api/sessions did not give a list of sessions: is that evcc's address?" in strange.stderr
    for nothing_yet in ([], None):
        empty = run("--evcc", evcc(nothing_yet, wrapped=True).url, "--plugtrack", live_server.url, token=token)
        assert (empty.returncode, empty.stdout) == (
            0,
            "0 sent, 0 stored already, 0 refused, 0 no car, 0 still charging.\n",
        )

    euros = run("--evcc", server.url, "--plugtrack", live_server.url, "--car", "Guest=skip", token=token)
    assert euros.returncode == 1
    assert "evcc's prices are in EUR: give --rate (pounds per EUR, e.g. 0.86)" in euros.stderr
    assert ChargingSession.objects.filter(car=niro).count() == 1  # nothing sent

    dry = run("--evcc", server.url, "--plugtrack", live_server.url, "--car", "Guest=skip", "--currency", "none",
              "--dry-run", token=token)  # fmt: skip
    assert dry.returncode == 0
    assert dry.stdout.count("would send") == 3
    assert ChargingSession.objects.filter(car=niro).count() == 1


def test_the_script_needs_only_pythons_standard_library():
    tree = ast.parse(SCRIPT.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree)
                                             if isinstance(node, ast.ImportFrom)}  # fmt: skip
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names

#!/usr/bin/env python3
"""Post evcc's finished charging sessions to PlugTrack: run it by cron, as often as you like.

It reads evcc's sessions (GET /api/sessions?format=json, as evcc's Sessions page does), and posts each
finished one to PlugTrack's API (POST /api/v1/sessions) with `external_id` "evcc-<evcc's id>". Sending
a session again is harmless: the same request has the same Idempotency-Key (PlugTrack answers it again,
storing nothing), and a session PlugTrack has already is 409, counted as "stored already". So the script
keeps no state it needs; --state FILE only spares it re-sending the sessions it has settled.

Python 3.11 or later, the standard library only. Explained in evcc.md, next to this file.

    export PLUGTRACK_TOKEN=pt_3f9a2b7c01de_…     # scope sessions:write (and the cars it may use)
    python3 evcc_to_plugtrack.py --evcc http://evcc.local:7070 --plugtrack https://plugtrack.example.org

Exit status: 0 when every finished session is stored (now or before); 1 when one was refused, or its
vehicle has no car, or PlugTrack or evcc failed (the message says which, and what to do); 2 when the
command line is wrong.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 30
RETRIES_WHEN_THROTTLED = 5
USER_AGENT = "evcc_to_plugtrack/1"


class Failed(Exception):
    """Something the person must see and act on; the run stops with exit status 1."""


# --- evcc ----------------------------------------------------------------------------------------


def evcc_sessions(evcc_url: str) -> list[dict]:
    """evcc's sessions: a bare list (newer versions) or {"result": [...]} (older ones)."""
    data = http_json("GET", f"{evcc_url}/api/sessions?format=json", what="evcc")[1]
    if isinstance(data, dict) and "result" in data:
        data = data["result"]
    if data is None:  # an evcc without sessions may say null
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) and _is_id(item.get("id")) for item in data):
        raise Failed(f"evcc's {evcc_url}/api/sessions did not give a list of sessions: is that evcc's address?")
    return data


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def evcc_currency(evcc_url: str) -> str:
    """The currency evcc's prices are in (its site's setting, in /api/state)."""
    data = http_json("GET", f"{evcc_url}/api/state", what="evcc")[1]
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        data = data["result"]
    currency = data.get("currency") if isinstance(data, dict) else None
    if not isinstance(currency, str) or not currency:
        raise Failed("evcc did not say which currency its prices are in: give --currency (GBP, EUR, …, or none).")
    return currency.upper()


def moment(value) -> dt.datetime | None:
    """An evcc time (RFC 3339, up to nanoseconds); None for none or Go's zero time (not finished yet)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if parsed.year < 1971 or parsed.tzinfo is None else parsed.replace(microsecond=0)


def number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def session_body(session: dict, *, car: int, currency: str, rate: str | None, location: str | None) -> dict:
    """One finished evcc session as PlugTrack's POST /sessions takes it. evcc runs AC wallboxes; its odometer
    is in km (none known: the rule "previous", the car's latest odometer before it); its chargeDuration is in
    nanoseconds (Go's time.Duration); its prices are in evcc's currency."""
    started, ended = moment(session.get("created")), moment(session.get("finished"))
    body: dict = {"car": car, "started_at": started.isoformat(), "ended_at": ended.isoformat()}
    if (odometer := number(session.get("odometer"))) is not None and odometer > 0:
        body |= {"odometer": round(odometer), "odometer_unit": "km"}
    else:
        body["odometer_rule"] = "previous"
    body |= {"charge_type": "AC", "charge_delivered_kwh": round(number(session.get("chargedEnergy")) or 0, 3)}
    if (duration := number(session.get("chargeDuration"))) is not None and duration > 0:
        body["duration_mins"] = round(duration / 60e9)
    for name, field in (("socStart", "soc_from"), ("socStop", "soc_to")):
        if (soc := number(session.get(name))) is not None:
            body[field] = round(soc)
    price, per_kwh = number(session.get("price")), number(session.get("pricePerKWh"))
    if currency.lower() != "none" and (price is not None or per_kwh is not None):
        if price is not None:
            body["total_cost"] = round(price, 2)
        if per_kwh is not None:
            body["cost_per_kwh"] = round(per_kwh, 4)
        body["currency"] = currency
        if rate is not None:
            body["rate"] = rate
    body["location_label"] = (location if location is not None else str(session.get("loadpoint") or ""))[:120]
    said = [f"evcc session {session['id']}"]
    if session.get("vehicle"):
        said.append(f"vehicle {session['vehicle']}")
    if (solar := number(session.get("solarPercentage"))) is not None:
        said.append(f"solar {solar:.0f} %")
    body["notes"] = ", ".join(said)
    body["external_id"] = f"evcc-{session['id']}"
    return body


# --- PlugTrack -----------------------------------------------------------------------------------


def http_json(method: str, url: str, *, what: str, headers: dict | None = None, body: bytes | None = None):
    """(status, JSON, headers) of one request. An HTTP error's answer is returned too (its status says it); a
    network failure, a timeout or an answer that is not JSON is Failed, naming `what` failed."""
    request = urllib.request.Request(
        url,
        data=body,
        method=method,
        headers={"Accept": "application/json", "User-Agent": USER_AGENT} | (headers or {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw, response_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, response_headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Failed(f"Could not reach {what} at {url}: {reason}.") from None
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        raise Failed(f"{what} answered {url} with HTTP {status} and not JSON: is that its address?") from None
    if status >= 400 and what == "evcc":
        raise Failed(
            f"evcc answered {url} with HTTP {status} (is that its address?): {raw[:200].decode(errors='replace')}"
        )
    return status, data, response_headers


class PlugTrack:
    def __init__(self, url: str, token: str):
        self.api = f"{url.rstrip('/')}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: bytes | None = None, key: str | None = None):
        """(status, JSON, whether it is the answer to an earlier request with the key); refusals that no
        session of this run would escape (a wrong token, the scope, PlugTrack down) are Failed."""
        headers = self.headers | ({"Content-Type": "application/json", "Idempotency-Key": key} if key else {})
        for _ in range(RETRIES_WHEN_THROTTLED + 1):
            status, data, answer_headers = http_json(
                method, self.api + path, what="PlugTrack", headers=headers, body=body
            )
            retry_after = answer_headers.get("Retry-After") if answer_headers else None
            if status not in (429, 409) or not retry_after:
                break
            # throttled (a first run with a long history), or the same key still being answered: wait, then again
            time.sleep(min(int(retry_after) if retry_after.isdigit() else 1, 60))
        message = data.get("message", "") if isinstance(data, dict) else ""
        if status == 401:
            raise Failed(f"PlugTrack refused the token: {message} Make a new one (scope sessions:write).")
        if status in (403, 413, 429) or status >= 500:
            raise Failed(f"PlugTrack answered {method} {path} with HTTP {status}: {message or data}")
        replayed = bool(answer_headers) and answer_headers.get("Idempotent-Replayed") == "true"
        return status, data, replayed

    def cars(self) -> list[dict]:
        status, data, _ = self.request("GET", "/cars")
        if status != 200 or not isinstance(data, list):
            raise Failed(f"PlugTrack answered GET /cars with HTTP {status}: {data}")
        return data


def car_for(vehicle: str, cars_by_title: dict[str, str], default: str | None) -> str | None:
    """The PlugTrack car (an id, or "skip") for evcc's vehicle title; None: not known."""
    return cars_by_title.get(vehicle, default)


def cars_mapping(given: list[str], cars: list[dict]) -> tuple[dict[str, str], str | None]:
    """--car options: "TITLE=ID" or "TITLE=skip" for evcc's vehicle TITLE, and at most one plain ID for every
    other session; no plain ID and the token may use one car only: that car."""
    by_title, default = {}, None
    for option in given:
        title, equals, car = option.rpartition("=")
        if not equals:
            if default is not None:
                raise Failed(f"Give one --car ID for the sessions of other vehicles, not two ({default}, {car}).")
            default = car.strip()
        else:
            by_title[title.strip()] = car.strip()
    known = {str(car["id"]) for car in cars}
    said = ", ".join(f"{car['id']} {car['name']}" for car in cars)
    for car in [*by_title.values(), default]:
        if car not in (None, "skip") and car not in known:
            raise Failed(f"PlugTrack has no car {car} that this token may use; it may use: {said or 'none'}.")
    if default is None and len(cars) == 1:
        default = str(cars[0]["id"])
    if not given and default is None:
        raise Failed(
            f"This token may use {len(cars)} cars ({said or 'none'}): say which car each evcc vehicle "
            'is, with --car "VEHICLE=ID" (or --car ID for all of them).'
        )
    return by_title, default


# --- the run -------------------------------------------------------------------------------------


def idempotency_key(body: dict) -> str:
    """The same for the same request sent again; another for another body (say, after --currency was
    changed), whose session PlugTrack then finds by its external_id (409) rather than refusing the key."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return f"{body['external_id']}-{digest}"


def run(options: argparse.Namespace, token: str) -> int:
    out = sys.stdout
    sessions = sorted(evcc_sessions(options.evcc.rstrip("/")), key=lambda session: session["id"])
    plugtrack = PlugTrack(options.plugtrack, token)
    by_title, default = cars_mapping(options.car, plugtrack.cars())
    currency = options.currency or None
    if currency and currency.upper() not in ("GBP", "NONE") and options.rate is None:
        raise Failed(f"Prices in {currency} need --rate (pounds per {currency}, e.g. 0.86), or --currency none.")
    state = read_state(options.state)
    if state.get("evcc", options.evcc) != options.evcc:
        raise Failed(f"The state file {options.state} is another evcc's ({state['evcc']}): give another --state.")
    counts = {"sent": 0, "stored already": 0, "refused": 0, "no car": 0, "still charging": 0}
    settled_up_to, settled = state.get("last_id", 0), True
    for session in sessions:
        evcc_id = session["id"]
        if evcc_id <= state.get("last_id", 0):
            continue
        started, ended = moment(session.get("created")), moment(session.get("finished"))
        if started is None or ended is None:
            counts["still charging"] += 1
            settled = False
            continue
        vehicle = str(session.get("vehicle") or "")
        car = car_for(vehicle, by_title, default)
        if car == "skip" or (options.since and ended.date() < options.since):  # not to be sent: settled
            settled_up_to = evcc_id if settled else settled_up_to
            continue
        if car is None:
            counts["no car"] += 1
            settled = False
            print(
                f'evcc {evcc_id}: the vehicle "{vehicle}" has no car: give --car "{vehicle}=ID" (or "{vehicle}=skip").',
                file=out,
            )
            continue
        if currency is None and (session.get("price") is not None or session.get("pricePerKWh") is not None):
            currency = evcc_currency(options.evcc.rstrip("/"))
            if currency != "GBP" and options.rate is None:
                raise Failed(
                    f"evcc's prices are in {currency}: give --rate (pounds per {currency}, e.g. 0.86), "
                    "or --currency none to leave the costs out."
                )
        body = session_body(
            session, car=int(car), currency=currency or "GBP", rate=options.rate, location=options.location
        )
        if options.dry_run:
            print(f"evcc {evcc_id}: would send {json.dumps(body)}", file=out)
            continue
        status, answer, replayed = plugtrack.request(
            "POST", "/sessions", json.dumps(body).encode(), idempotency_key(body)
        )
        outcome = said_of(evcc_id, status, answer, replayed)
        counts[outcome[0]] += 1
        print(outcome[1], file=out)
        if outcome[0] in ("sent", "stored already") and settled:
            settled_up_to = evcc_id
        else:
            settled = False
    if not options.dry_run and options.state:
        write_state(options.state, {"last_id": settled_up_to, "evcc": options.evcc})
    print(", ".join(f"{count} {said}" for said, count in counts.items()) + ".", file=out)
    return 1 if counts["refused"] or counts["no car"] else 0


def said_of(evcc_id: int, status: int, answer, replayed: bool) -> tuple[str, str]:
    """What became of a session: ("sent", "stored already" or "refused", a line saying it)."""
    answer = answer if isinstance(answer, dict) else {}
    if status == 201 and replayed:
        return "stored already", f"evcc {evcc_id}: sent before (PlugTrack session {answer['session']['id']})"
    if status == 201:
        stored = answer["session"]
        warnings = "".join(f"\n  warning: {warning['message']}" for warning in answer.get("warnings", []))
        return "sent", (
            f"evcc {evcc_id} → PlugTrack session {stored['id']} ({stored['date']}, "
            f"{stored['charge_delivered_kwh']} kWh, {stored['odometer']} mi){warnings}"
        )
    if status == 409 and "session_id" in answer:
        return "stored already", f"evcc {evcc_id}: stored already (PlugTrack session {answer['session_id']})"
    errors = "".join(f"\n  {error['field']}: {error['message']}" for error in answer.get("errors", []))
    return "refused", f"evcc {evcc_id}: refused (HTTP {status}): {answer.get('message', answer)}{errors}"


def read_state(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
        return state if isinstance(state, dict) and isinstance(state.get("last_id", 0), int) else {}
    except (OSError, ValueError):
        raise Failed(
            f"Could not read the state file {path}: delete it, and every session is sent again "
            "(harmlessly: PlugTrack has them already)."
        ) from None


def write_state(path: Path, state: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state) + "\n")
    os.replace(partial, path)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="The token is read from $PLUGTRACK_TOKEN, or from --token-file."
    )
    parser.add_argument("--evcc", required=True, help="evcc's address, e.g. http://evcc.local:7070")
    parser.add_argument("--plugtrack", required=True, help="PlugTrack's address, e.g. https://plugtrack.example.org")
    parser.add_argument("--token-file", type=Path, help="a file holding the token (else $PLUGTRACK_TOKEN)")
    parser.add_argument(
        "--car",
        action="append",
        default=[],
        metavar="VEHICLE=ID",
        help="the PlugTrack car of evcc's vehicle VEHICLE (its title; =skip: not sent); a plain ID: "
        "the car of every other session (left out: the token's only car, if it may use one).",
    )
    parser.add_argument(
        "--currency",
        help="the currency of evcc's prices (GBP, EUR, …, or none to leave costs out); left out: evcc's own setting",
    )
    parser.add_argument("--rate", help="pounds per unit of --currency, e.g. 0.86 for EUR (needed unless GBP)")
    parser.add_argument("--location", help="the location label of every session (left out: evcc's loadpoint title)")
    parser.add_argument(
        "--since",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="send only sessions that ended on or after this day",
    )
    parser.add_argument("--state", type=Path, help="a file to remember the last evcc session settled (optional)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    try:
        token = options.token_file.read_text() if options.token_file else os.environ.get("PLUGTRACK_TOKEN", "")
    except OSError as error:
        print(f"evcc_to_plugtrack: could not read the token file: {error}", file=sys.stderr)
        return 2
    if not token.strip().startswith("pt_"):
        print(
            "evcc_to_plugtrack: no PlugTrack token: set PLUGTRACK_TOKEN (pt_…), or give --token-file.", file=sys.stderr
        )
        return 2
    try:
        return run(options, token.strip())
    except Failed as error:
        print(f"evcc_to_plugtrack: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The HTTP API served as in production, under load, on loopback only: gunicorn started as
docs/deployment.md says (its production settings, DEBUG off, 3 workers) on a fresh database; one owner
with a car of 51,000 sessions; 20 clients, each a program with its own token, for 60 s, each posting a
finished session (POST /api/v1/sessions, with its Idempotency-Key), reading a page of 500 sessions as
JSON (GET /api/v1/sessions?limit=500) or the car's analytics summary (GET /api/v1/analytics/summary),
one after another with a pause between (as automations and dashboards call it). Then, alone, the car's
whole CSV (GET /api/v1/sessions.csv, streamed): its first byte and its end, against the
`sessions_export` command writing the same sessions in a child process of the same run (its export
timed, not Python starting).

    .venv/bin/python bench/bench_api.py                          # SQLite
    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_api.py
    .venv/bin/python bench/bench_api.py --seconds 20 --clients 10 --sessions 10000
    .venv/bin/python bench/bench_api.py --smoke                  # the same, small, in seconds

Targets: POST p95 ≤ 150 ms, a page of 500 sessions p95 ≤ 300 ms, the summary p95 ≤ 100 ms, the CSV's
first byte within 1 s and its end within 1.2 × the command's export, no error (any answer but the one
expected, a refused connection). A "busy" answer (503: on SQLite, the database's writer held past the
wait) is counted apart, as bench_served.py counts it. Each client's token is an owner's token like any
other, but the per-token limits (60 writes and 600 reads a minute) are raised for the run: they would
answer 429 to a client calling faster than an automation does, and the run measures the work, not the
limits (their cache is read and written on every request all the same). The test suite runs the
--smoke size (tests/bench/test_smoke.py): 300 sessions, 4 clients for 4 s; it fails on an error, but
does not judge the figures at that size.
"""

import argparse
import datetime as dt
import http.client
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from served import Server, site_run, site_set_up, statistics_gathered

GUNICORN = ["--workers", "3", "--timeout", "90"]  # as docs/deployment.md's plugtrack-web.service
THINK_SECONDS = (0.5, 1.5)
PAGE = 500
TARGETS_MS = {"post": 150, "page": 300, "summary": 100}
FIRST_BYTE_TARGET_S, CSV_RATIO_TARGET = 1.0, 1.2
CSV_RUNS = 3  # the CSV and the command each this many times, alone: the median of each


@dataclass(frozen=True)
class Sizes:
    sessions: int = 51_000
    clients: int = 20
    seconds: float = 60


SMOKE = Sizes(sessions=300, clients=4, seconds=4)
LABELS = {"post": "POST /sessions", "page": f"GET /sessions?limit={PAGE}", "summary": "GET /analytics/summary"}


# --- the children: the data, and the command's export ----------------------------------------------


def child_build(sizes_json: str) -> None:
    """Migrate, the shared cache's table, static files; the owner, the car and its sessions (written at
    once, then recomputed once, as a restore does); a token for each client. Prints them as JSON."""
    import django

    django.setup()
    from django.core.management import call_command

    from api.services import api_token_create
    from cars_app.models import Car
    from plugtrack_site.accounts import owner_account_ensure
    from sessions_app.models import ChargingSession
    from sessions_app.services import sessions_sequence_recompute

    sizes = Sizes(**json.loads(sizes_json))
    site_set_up()
    call_command("createcachetable", verbosity=0)
    user, _ = owner_account_ensure(username="bench", password="bench-password-123")
    car = Car.objects.create(user=user, name="Niro", make="Kia", model="Niro EV", battery_kwh=64.8)
    sessions, last = history(sizes.sessions), None
    while chunk := list(itertools.islice(sessions, 5_000)):
        ChargingSession.objects.bulk_create(ChargingSession(user=user, car=car, **values) for values in chunk)
        last = chunk[-1]
    sessions_sequence_recompute(car_ids=[car.pk], rows_written=sizes.sessions)
    scopes = ["sessions:read", "sessions:write", "analytics:read"]
    secrets = [api_token_create(user=user, name=f"client {number}", scopes=scopes, expires_days=1).secret
               for number in range(sizes.clients)]  # fmt: skip
    statistics_gathered()
    print(json.dumps({"car_id": car.pk, "secrets": secrets, "sessions": sizes.sessions,
                      "last_date": last["date"].isoformat(), "last_odometer": last["odometer"]}))  # fmt: skip


def history(count: int):
    """A UK owner's sessions, as bench_io.generate_csv shapes them: mostly home AC, some rapid DC."""
    from decimal import Decimal

    rng = random.Random(7)
    day, odometer = dt.date(1990, 1, 1), 1000
    sites = [
        ("Home driveway", "Octopus", "0.075", 7, "AC"), ("Tesco Extra Leeds", "Pod Point", "0.49", 7, "AC"),
        ("Gridserve Braintree", "GRIDSERVE", "0.79", 75, "DC"), ("InstaVolt Winchester", "InstaVolt", "0.85", 50, "DC"),
    ]  # fmt: skip
    for index in range(count):
        day += dt.timedelta(days=rng.choice([0, 0, 1, 1, 2]))
        label, network, price, power, kind = sites[0] if rng.random() < 0.75 else rng.choice(sites[1:])
        soc_from = rng.randint(10, 50)
        soc_to = min(100, soc_from + rng.randint(20, 60))
        kwh = Decimal(round(64.8 * (soc_to - soc_from) / 100, 3)).quantize(Decimal("0.001"))
        odometer += max(1, round(float(kwh) * rng.uniform(3.0, 4.4)))
        yield {"date": day, "odometer": odometer, "charge_type": kind, "charge_power_kw": power,
               "location_label": label, "charge_network": network, "charge_delivered_kwh": kwh,
               "duration_mins": round(float(kwh) / power * 66), "cost_per_kwh": Decimal(price),
               "total_cost_gbp": None if index % 3 else (Decimal(price) * kwh).quantize(Decimal("0.01")),
               "soc_from": soc_from, "soc_to": soc_to, "notes": "" if index % 7 else "note, with a comma"}  # fmt: skip


def child_export(car_id: str, target: str) -> None:
    """`manage.py sessions_export` of the car, timed from the call to its end (Django set up before)."""
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command

    started = time.perf_counter()
    call_command("sessions_export", "--user", "bench", "--car", car_id, "--to", target, stdout=StringIO())
    print(json.dumps({"seconds": time.perf_counter() - started, "bytes": Path(target).stat().st_size}))


# --- the clients --------------------------------------------------------------------------------


@dataclass
class Results:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in LABELS})
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: itertools.count = field(default_factory=itertools.count)


class Client:
    """One program with its token, on a connection of its own to 127.0.0.1 (opened again when gunicorn
    closes it: its sync workers close each connection after the answer)."""

    def __init__(self, port: int, secret: str):
        self.port, self.headers = port, {"Authorization": f"Bearer {secret}"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None):
        """(status, body) of one request."""
        try:
            self.connection.request(method, url, body=body, headers=self.headers | (headers or {}))
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return type(error).__name__, b""


def call(client: Client, kind: str, site: dict, results: Results, rng: random.Random) -> tuple[str, object]:
    """One request of `kind`: (what it was, its status); the status expected is 201 or 200."""
    if kind == "post":
        number = next(results.posted) + 1  # a session after the car's last, each a day after the one before
        day = dt.date.fromisoformat(site["last_date"]) + dt.timedelta(days=number)
        body = json.dumps({
            "car": site["car_id"], "date": day.isoformat(), "odometer": site["last_odometer"] + 60 * number,
            "charge_type": "AC", "charge_delivered_kwh": round(rng.uniform(12, 18), 2), "cost_per_kwh": 0.075,
            "location_label": "Home driveway", "charge_network": "Octopus",
        }).encode()  # fmt: skip
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"bench-{number}"}
        status, _ = client.request("POST", "/api/v1/sessions", body, headers)
        return "POST /api/v1/sessions", status == 201 or status
    if kind == "page":
        # some page of the car's history: the page after a cursor is as costly as the first
        url = f"/api/v1/sessions?car={site['car_id']}&limit={PAGE}"
        if rng.random() < 0.5:
            url += f"&from={dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 30_000))}"
        status, body = client.request("GET", url)
        full = min(PAGE, site["sessions"])
        if status == 200 and len(json.loads(body)["sessions"]) < full and "from=" not in url:
            return url, "short page"
        return url, status == 200 or status
    url = f"/api/v1/analytics/summary?car={site['car_id']}&period={rng.choice(['month', 'year', 'all'])}"
    status, _ = client.request("GET", url)
    return url, status == 200 or status


def client_run(port: int, secret: str, site: dict, until: float, results: Results, seed: int) -> None:
    rng, client = random.Random(seed), Client(port, secret)
    while time.monotonic() < until:
        kind = rng.choice(list(LABELS))
        started = time.perf_counter()
        url, outcome = call(client, kind, site, results, rng)
        elapsed = (time.perf_counter() - started) * 1000
        with results.lock:
            if outcome is True:
                results.latencies_ms[kind].append(elapsed)
            elif outcome == 503:
                results.busy += 1
            else:
                results.errors.append(f"{outcome} {url}")
        time.sleep(rng.uniform(*THINK_SECONDS))


def run_load(port: int, site: dict, sizes: Sizes) -> Results:
    for secret in site["secrets"]:  # each worker started and connected, as a server that has been up a while
        Client(port, secret).request("GET", "/api/v1/cars")
    results = Results()
    until = time.monotonic() + sizes.seconds
    threads = [threading.Thread(target=client_run, args=(port, secret, site, until, results, number))
               for number, secret in enumerate(site["secrets"])]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def csv_download(port: int, secret: str, car_id: int) -> dict:
    """The car's whole CSV as a program saves it: (first byte, end) in seconds, and its size."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", f"/api/v1/sessions.csv?car={car_id}", headers={"Authorization": f"Bearer {secret}"})
    response = connection.getresponse()
    first = response.read(1)
    first_byte = time.perf_counter() - started
    size = len(first)
    while chunk := response.read(1 << 16):
        size += len(chunk)
    total = time.perf_counter() - started
    connection.close()
    return {"status": response.status, "first_byte_s": first_byte, "total_s": total, "bytes": size}


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=Sizes.sessions, help="The car's sessions (default 51,000).")
    parser.add_argument("--clients", type=int, default=Sizes.clients, help="Clients, each its token (default 20).")
    parser.add_argument("--seconds", type=float, default=Sizes.seconds, help="How long they call (default 60).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--smoke", action="store_true",
        help=f"Check that it all runs: {SMOKE.sessions} sessions, {SMOKE.clients} clients for {SMOKE.seconds:.0f} s.",
    )  # fmt: skip
    parser.add_argument("--child-build", help=argparse.SUPPRESS)
    parser.add_argument("--child-export", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_build:
        return child_build(options.child_build)
    if options.child_export:
        return child_export(*options.child_export)
    sizes = SMOKE if options.smoke else Sizes(options.sessions, options.clients, options.seconds)

    limits = {"PLUGTRACK_API_WRITES_PER_MINUTE": "1000000", "PLUGTRACK_API_READS_PER_MINUTE": "1000000"}
    with site_run("plugtrack-bench-api-", ALLOWED_HOSTS="127.0.0.1", **limits) as site:
        started = time.perf_counter()
        build = subprocess.run([sys.executable, __file__, "--child-build", json.dumps(asdict(sizes))],
                               env=site.environment, capture_output=True, text=True)  # fmt: skip
        if build.returncode:
            sys.exit(f"build failed:\n{build.stderr[-3000:]}")
        data = json.loads(build.stdout.splitlines()[-1])
        print(f"Built {sizes.sessions:,} sessions and {sizes.clients} tokens in {time.perf_counter() - started:.1f} s")
        server = Server(site.environment, gunicorn=GUNICORN)
        try:
            results = run_load(server.port, data, sizes)
            downloads = [csv_download(server.port, data["secrets"][0], data["car_id"]) for _ in range(CSV_RUNS)]
        finally:
            server.stop()
        exports = []
        for _ in range(CSV_RUNS):
            export = subprocess.run(
                [sys.executable, __file__, "--child-export", str(data["car_id"]), str(site.workdir / "export.csv")],
                env=site.environment, capture_output=True, text=True,
            )  # fmt: skip
            if export.returncode:
                sys.exit(f"export failed:\n{export.stderr[-3000:]}")
            exports.append(json.loads(export.stdout.splitlines()[-1]))
    if not report(results, downloads, exports, site.database_url, options, sizes):
        sys.exit(1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)] if ordered else 0.0


def report(results: Results, downloads: list[dict], exports: list[dict], url: str, options, sizes: Sizes) -> bool:
    """Print the figures; whether every target was met (in a smoke run: no error)."""
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"API served on {engine} (gunicorn {' '.join(GUNICORN)}), {os.cpu_count()} cores, an owner of "
          f"{sizes.sessions:,} sessions, {sizes.clients} clients for {sizes.seconds:.0f} s")  # fmt: skip
    print(f"{'request':<34}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'target':>10}")
    figures, met = {}, True
    for kind, label in LABELS.items():
        values = results.latencies_ms[kind]
        p50, p95 = (statistics.median(values) if values else 0), percentile(values, 0.95)
        ok = bool(values) and p95 <= TARGETS_MS[kind]
        met &= ok
        print(f"{label:<34}{len(values):>7}{p50:>9.0f}{p95:>9.0f}{max(values, default=0):>9.0f}"
              f"{'≤' + str(TARGETS_MS[kind]) + (' ok' if ok else ' MISS'):>10}")  # fmt: skip
        figures[kind] = {"count": len(values), "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
    first = statistics.median(download["first_byte_s"] for download in downloads)
    total = statistics.median(download["total_s"] for download in downloads)
    command = statistics.median(export["seconds"] for export in exports)
    ratio = total / command if command else 0
    wrong = [f"CSV {download['status']}" for download in downloads if download["status"] != 200]
    wrong += [f"CSV of {d['bytes']:,} bytes, the command's {exports[0]['bytes']:,}" for d in downloads
              if d["bytes"] != exports[0]["bytes"]]  # fmt: skip
    csv_ok = first <= FIRST_BYTE_TARGET_S and ratio <= CSV_RATIO_TARGET
    print(f"full CSV of {sizes.sessions:,} sessions ({downloads[0]['bytes']:,} bytes), median of {CSV_RUNS}: "
          f"first byte {first:.2f} s (target ≤ {FIRST_BYTE_TARGET_S:.0f} s), end {total:.2f} s; "
          f"sessions_export {command:.2f} s: ratio {ratio:.2f} (target ≤ {CSV_RATIO_TARGET}) "
          f"{'ok' if csv_ok else 'MISS'}")  # fmt: skip
    errors = results.errors + wrong
    print(f"busy (503, try again): {results.busy}; errors: {len(errors)}")
    for error in errors[:10]:
        print(f"  error: {error}")
    passed = not errors and (options.smoke or (met and csv_ok))
    if options.smoke:
        print("Smoke run: no error; the figures not judged at this size." if passed
              else "SMOKE RUN FAILED: an error (see above).")  # fmt: skip
    else:
        print("All targets met." if passed else "SOME TARGETS MISSED.")
    if options.json:
        options.json.write_text(json.dumps({
            "database": engine, "sizes": asdict(sizes), "requests": figures, "busy": results.busy, "errors": errors,
            "csv": {"first_byte_s": first, "total_s": total, "command_s": command, "ratio": ratio},
        }, indent=2))  # fmt: skip
    return passed


if __name__ == "__main__":
    main()

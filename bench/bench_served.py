"""PlugTrack served as in production, under load, on loopback only: gunicorn started as docs/deployment.md
says (with its production settings, DEBUG off) and the background worker, on a fresh database;
10 owners with 5,000 sessions each; 50 logged-in clients browsing the sessions list and a car's
analytics page for 60 s (each waits about a second between pages, as a person reading them does)
while 3 of the owners each import a file of 5,000 new sessions through the admin (upload, check,
confirm, done).

    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_served.py
    .venv/bin/python bench/bench_served.py                     # SQLite: reports its figures too
    .venv/bin/python bench/bench_served.py --seconds 20 --clients 10
    .venv/bin/python bench/bench_served.py --smoke             # the same, small, in seconds

Targets: no error (HTTP 500, a refused connection), p95 ≤ 300 ms for the browsing, every import
done. A "busy" page (503: the account or, on SQLite, the database is busy with another write) is
counted apart: it is a clear "try again", not an error. The test suite runs the --smoke size
(tests/bench/test_smoke.py): 3 owners of 250 sessions, 4 clients for 5 s, 2 imports of 100 sessions;
it fails on an error or an import not done, but does not judge p95 at that size.
"""

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench_io import generate_csv
from served import CSRF, Server, Worker, confirm_url, site_run, site_set_up, statistics_gathered

P95_TARGET_MS = 300


@dataclass(frozen=True)
class Sizes:
    owners: int = 10
    sessions_per_owner: int = 5_000
    importers: int = 3  # of the owners, each importing a file of new sessions while the others browse
    import_rows: int = 5_000


# (250 sessions: the browsing asks for pages 1 to 5 of the list, of 50 sessions a page)
SMOKE = Sizes(owners=3, sessions_per_owner=250, importers=2, import_rows=100)
SMOKE_CLIENTS, SMOKE_SECONDS = 4, 5.0
GUNICORN = ["--workers", "3", "--timeout", "90"]  # as docs/deployment.md's plugtrack-web.service
THINK_SECONDS = (0.5, 1.5)


def child_build(workdir: str, sizes_json: str) -> None:
    """Migrate and collect static files; the owners, each with a car of sessions and a logged-in
    session cookie; the import files (`sizes_json`: how many of each). Prints them as JSON."""
    import django

    django.setup()
    sizes = Sizes(**json.loads(sizes_json))
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from cars_app.models import Car
    from plugtrack_site.accounts import owner_account_ensure
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import

    site_set_up()
    owners = []
    for index in range(sizes.owners):
        user, _ = owner_account_ensure(username=f"owner{index}", password="bench-password-123")
        car = Car.objects.create(user=user, name="Niro", make="Kia", model="Niro EV", battery_kwh=64.8)
        history = Path(workdir) / f"history{index}.csv"
        generate_csv(history, sizes.sessions_per_owner, seed=index)
        charging_sessions_import(user=user, car=car, source=history, options=ImportOptions(error_file=False))
        upload = Path(workdir) / f"new{index}.csv"
        if index < sizes.importers:
            generate_csv(upload, sizes.import_rows, seed=1000 + index)  # other days and odometers: new sessions
        session = SessionStore()
        session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                        HASH_SESSION_KEY: user.get_session_auth_hash()})  # fmt: skip
        session.create()
        owners.append({
            "car_id": car.pk, "upload": str(upload) if index < sizes.importers else None,
            "cookies": f"sessionid={session.session_key}; csrftoken={CSRF}",
        })  # fmt: skip
    statistics_gathered()
    print(json.dumps(owners))


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    imports: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def browse(server: Server, owner: dict, until: float, results: Results, rng: random.Random) -> None:
    """One person: the sessions list (some page of it) or the car's analytics, then a pause."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    while time.monotonic() < until:
        if rng.random() < 0.5:
            url = f"/admin/sessions_app/chargingsession/?p={rng.randint(1, 5)}"
        else:
            url = f"/admin/cars_app/car/{owner['car_id']}/analytics/"
        started = time.perf_counter()
        try:
            connection.request("GET", url, headers={"Cookie": owner["cookies"]})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            status, connection = f"{type(error).__name__}", http.client.HTTPConnection("127.0.0.1", server.port)
        elapsed = (time.perf_counter() - started) * 1000
        with results.lock:
            if status == 200:
                results.latencies_ms.append(elapsed)
            elif status == 503:
                results.busy += 1
            else:
                results.errors.append(f"{status} {url}")
        time.sleep(rng.uniform(*THINK_SECONDS))


def import_through_the_admin(server: Server, owner: dict, results: Results) -> None:
    """Upload the owner's file, wait for its check, confirm it, wait until it is done."""
    started = time.perf_counter()
    fields = {"car": owner["car_id"]}
    status, job_url, _ = server.post_form(
        "/admin/sessions_app/chargingsession/import/", owner["cookies"], fields, Path(owner["upload"]), "import_file"
    )
    outcome = f"upload refused ({status})"
    if status == 302:
        confirm = confirm_url(server.job_finished(job_url, owner["cookies"], poll_seconds=1))
        outcome = "nothing to confirm"
        if confirm:
            server.post_form(confirm, owner["cookies"], {})
            page = server.job_finished(job_url, owner["cookies"], poll_seconds=1)
            found = re.search(r"Imported (\d+) session", page)
            outcome = f"imported {found.group(1)}" if found else "did not finish"
    with results.lock:
        results.imports.append({"seconds": time.perf_counter() - started, "outcome": outcome})


def run_load(server: Server, owners: list[dict], clients: int, seconds: float) -> Results:
    results = Results()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=browse, args=(server, owners[i % len(owners)], until, results, random.Random(i)))
        for i in range(clients)
    ]
    threads += [
        threading.Thread(target=import_through_the_admin, args=(server, owner, results))
        for owner in owners
        if owner["upload"]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="How long the clients browse (default 60).")
    parser.add_argument("--clients", type=int, default=50, help="Browsing clients (default 50).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--smoke", action="store_true",
        help=f"Check that it all runs: {SMOKE.owners} owners, {SMOKE_CLIENTS} clients for {SMOKE_SECONDS:.0f} s.",
    )  # fmt: skip
    parser.add_argument("--child-build", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_build:
        return child_build(*options.child_build)
    sizes = SMOKE if options.smoke else Sizes()
    if options.smoke:
        options.clients, options.seconds = SMOKE_CLIENTS, SMOKE_SECONDS

    with site_run("plugtrack-bench-served-", ALLOWED_HOSTS="127.0.0.1") as site:
        build = subprocess.run(
            [sys.executable, __file__, "--child-build", str(site.workdir), json.dumps(asdict(sizes))],
            env=site.environment, capture_output=True, text=True,
        )  # fmt: skip
        if build.returncode:
            sys.exit(f"build failed:\n{build.stderr[-3000:]}")
        owners = json.loads(build.stdout.splitlines()[-1])
        worker, server = Worker(site.environment), Server(site.environment, gunicorn=GUNICORN)
        try:
            results = run_load(server, owners, options.clients, options.seconds)
        finally:
            server.stop()
            worker.stop()
    if not report(results, site.database_url, options, sizes):
        sys.exit(1)


def report(results: Results, url: str, options, sizes: Sizes) -> bool:
    """Print the figures; whether every target was met (in a smoke run: no error, every import done)."""
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    latencies = sorted(results.latencies_ms)
    p50 = statistics.median(latencies) if latencies else 0
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else 0
    print(f"Served on {engine} (gunicorn {' '.join(GUNICORN)}), {os.cpu_count()} cores, {sizes.owners} owners x "
          f"{sizes.sessions_per_owner:,} sessions, {options.clients} clients for {options.seconds:.0f} s")  # fmt: skip
    print(f"pages served: {len(latencies):,} ({len(latencies) / options.seconds:.1f}/s); p50 {p50:.0f} ms, "
          f"p95 {p95:.0f} ms (target ≤ {P95_TARGET_MS}); busy (503, try again): {results.busy}; "
          f"errors: {len(results.errors)}")  # fmt: skip
    for error in results.errors[:10]:
        print(f"  error: {error}")
    for number, job in enumerate(results.imports, 1):
        print(f"import {number}: {job['outcome']} in {job['seconds']:.1f} s")
    done = sum(job["outcome"].startswith("imported") for job in results.imports)
    works = not results.errors and done == sizes.importers
    passed = works and (options.smoke or p95 <= P95_TARGET_MS)
    if options.smoke:
        print("Smoke run: no error, every import done; p95 not judged at this size."
              if passed else "SMOKE RUN FAILED: an error, or an import not done (see above).")  # fmt: skip
    else:
        print("All targets met." if passed else "SOME TARGETS MISSED.")
    if options.json:
        options.json.write_text(json.dumps({
            "database": engine, "pages": len(latencies), "p50_ms": p50, "p95_ms": p95, "busy": results.busy,
            "errors": results.errors, "imports": results.imports,
        }, indent=2))  # fmt: skip
    return passed


if __name__ == "__main__":
    main()

"""Every admin page an owner uses, timed at two sizes of history, in one run on a fresh database:
an owner with 500 sessions and one with 50,000 (or a real file's), each in one car, plus a third
owner with 20 cars of 2,500 sessions (a fleet). Each page is requested through Django's test
client, logged in as its owner, with the production settings (DEBUG off): the median of 10
requests and the number of queries one request makes.

    .venv/bin/python bench/bench_pages.py                          # 50,000 generated sessions, SQLite
    .venv/bin/python bench/bench_pages.py --file sessions_dundee.csv
    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_pages.py
    .venv/bin/python bench/bench_pages.py --smoke                  # every page, small sizes, in seconds

Targets: every page ≤ 150 ms at the large size, ≤ 1.5x its own time at 500 sessions (its cost
does not grow with history), and the same number of queries at both sizes. The test suite runs the
--smoke size (tests/bench/test_smoke.py): owners of 250, 600 and 3 x 100 sessions, 2 requests a page;
it fails only when a page does not answer 200, as its times say nothing at that size.
"""

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bench_io import generate_csv
from served import site_run, site_set_up, statistics_gathered

MS_TARGET, GROWTH_TARGET = 150, 1.5


@dataclass(frozen=True)
class Sizes:
    small: int = 500  # sessions of the small owner's car
    fleet_cars: int = 20
    fleet_sessions_per_car: int = 2_500
    requests: int = 10  # of each page, for each owner: their median is the figure


# (the small owner's list still has a page 5, of 50 sessions a page)
SMOKE, SMOKE_ROWS = Sizes(small=250, fleet_cars=3, fleet_sessions_per_car=100, requests=2), 600


def pages(owner: dict) -> dict[str, str]:
    """Each page an owner uses, by name: its address, for this owner (their car, a session, a word of
    its location, its day, and their last page, so that every page has something to show)."""
    sessions = "/admin/sessions_app/chargingsession/"
    car, day = f"?car__id__exact={owner['car_id']}", dt.date.fromisoformat(owner["session_date"])
    return {
        "sessions list": sessions,
        "sessions list, page 5": f"{sessions}?p=5",
        "sessions list, one car": f"{sessions}{car}",
        "sessions list, one car, last page": f"{sessions}{car}&p={owner['car_pages']}",
        "sessions list, home": f"{sessions}?where=home",
        "sessions list, DC": f"{sessions}?charge_type__exact=DC",
        "sessions list, search": f"{sessions}?q={quote(owner['search'])}",
        "sessions list, one day": f"{sessions}?date__year={day.year}&date__month={day.month}&date__day={day.day}",
        "sessions list, by odometer": f"{sessions}?o=3",
        "session page": f"{sessions}{owner['session_id']}/change/",
        "car list": "/admin/cars_app/car/",
        "car analytics": f"/admin/cars_app/car/{owner['car_id']}/analytics/",
        "settings": f"/admin/settings_app/setting/user/{owner['user_id']}/",
        "backups": "/admin/backups/backup/",
        "jobs": "/admin/jobs/job/",
    }


def child_build(csv_path: str, rows: str, sizes_json: str) -> None:
    """Migrate, and make the three owners (the large one's sessions from `csv_path`, generated first
    when `rows` is not 0; the others' as `sizes_json` says); their cars and a session each, as JSON."""
    import django

    django.setup()
    sizes = Sizes(**json.loads(sizes_json))
    if int(rows):
        generate_csv(Path(csv_path), int(rows))
    from cars_app.models import Car
    from plugtrack_site.accounts import owner_account_ensure
    from sessions_app.admin.sessions import ChargingSessionAdmin
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import

    site_set_up()
    owners = {}
    for name, source in (("small", None), ("large", csv_path), ("fleet", None)):
        user, _ = owner_account_ensure(username=name, password="bench-password-123")
        cars = sizes.fleet_cars if name == "fleet" else 1
        for index in range(cars):
            car = Car.objects.create(user=user, name=f"Car {index}", make="Kia", model="Niro EV", battery_kwh=64.8)
            rows = {"small": sizes.small, "fleet": sizes.fleet_sessions_per_car}.get(name)
            path = Path(source) if source else Path(tempfile.mkstemp(suffix=".csv")[1])
            if rows:
                generate_csv(path, rows, seed=index)
            report = charging_sessions_import(
                user=user, car=car, source=path,
                options=ImportOptions(allow_partial=True, error_file=False),
            )
            if rows:
                path.unlink()
        session = car.sessions.order_by("id").first()
        owners[name] = {
            "user_id": user.pk,
            "car_id": car.pk,
            "session_id": session.pk,
            "session_date": session.date.isoformat(),
            "search": session.location_label.split()[0],
            "car_pages": -(-car.sessions.count() // ChargingSessionAdmin.list_per_page),
            "sessions": report.inserted * cars,
        }
    statistics_gathered()
    print(json.dumps(owners))


class QueryCounter:
    """A database execute wrapper that counts the queries run through it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def child_time(owners_json: str, requests: str) -> None:
    """Time each page for each owner: {owner: {page: {"ms": median of `requests`, "queries": n, "status": code}}}.
    The owners' requests of a page take turns, so that a slower spell of the machine falls on all
    three sizes alike rather than on whichever was being timed."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    owners = json.loads(owners_json)
    clients = {}
    for name, owner in owners.items():
        clients[name] = Client()
        clients[name].force_login(User.objects.get(pk=owner["user_id"]))
    figures = {name: {} for name in owners}
    for page in pages(next(iter(owners.values()))):
        urls = {name: pages(owner)[page] for name, owner in owners.items()}
        times = {name: [] for name in owners}
        for name, client in clients.items():
            client.get(urls[name])  # the first request: warms Django's caches (content types, templates)
            counter = QueryCounter()  # (Django empties its own query log as each request starts)
            with connection.execute_wrapper(counter):
                response = client.get(urls[name])
            figures[name][page] = {"queries": counter.count, "status": response.status_code}
        for _ in range(int(requests)):
            for name, client in clients.items():
                started = time.perf_counter()
                client.get(urls[name])
                times[name].append((time.perf_counter() - started) * 1000)
        for name in owners:
            figures[name][page]["ms"] = statistics.median(times[name])
    print(json.dumps(figures))


def child(step: str, environment: dict, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, f"--child-{step}", *args], env=environment, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"{step} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="Sessions of the large owner (default 50,000).")
    parser.add_argument("--file", type=Path, help="The large owner's sessions from this CSV instead.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--smoke", action="store_true",
        help=f"Check that every page answers, at small sizes ({SMOKE_ROWS} sessions for the large owner).",
    )  # fmt: skip
    parser.add_argument("--child-build", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-time", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_build:
        return child_build(*options.child_build)
    if options.child_time:
        return child_time(*options.child_time)

    sizes, rows = (SMOKE, SMOKE_ROWS) if options.smoke else (Sizes(), options.rows)
    with site_run("plugtrack-bench-pages-", ALLOWED_HOSTS="testserver") as site:
        csv_path = options.file or site.workdir / "large.csv"
        owners = child(
            "build", site.environment, str(csv_path), "0" if options.file else str(rows),
            json.dumps(dataclasses.asdict(sizes)),
        )  # fmt: skip
        figures = child("time", site.environment, json.dumps(owners), str(sizes.requests))
    if not report(figures, owners, site.database_url, options.json, smoke=options.smoke):
        sys.exit(1)


def report(figures: dict, owners: dict, url: str, json_path: Path | None, *, smoke: bool = False) -> bool:
    """Print the table; whether every page met its targets (in a smoke run: answered 200)."""
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    sizes = ", ".join(f"{name} {owner['sessions']:,}" for name, owner in owners.items())
    print(f"Admin pages on {engine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; sessions: {sizes}")
    print(f"{'page':<36}{'small ms':>9}{'large ms':>9}{'fleet ms':>9}{'growth':>7}{'queries s/l/f':>15}  target")
    passed = True
    for page in figures["small"]:
        small, large, fleet = (figures[name][page] for name in ("small", "large", "fleet"))
        growth = large["ms"] / small["ms"]
        misses = [f"HTTP {row['status']}" for row in (small, large, fleet) if row["status"] != 200]
        if large["ms"] > MS_TARGET:
            misses.append(f"{large['ms']:.0f} ms > {MS_TARGET}")
        if growth > GROWTH_TARGET:
            misses.append(f"grows {growth:.1f}x")
        if large["queries"] != small["queries"]:
            misses.append("queries grow")
        answered = not any(miss.startswith("HTTP") for miss in misses)
        passed = passed and (answered if smoke else not misses)
        queries = f"{small['queries']}/{large['queries']}/{fleet['queries']}"
        print(
            f"{page:<36}{small['ms']:>9.0f}{large['ms']:>9.0f}{fleet['ms']:>9.0f}{growth:>7.1f}{queries:>15}  "
            f"{'ok' if not misses else 'MISS: ' + ', '.join(misses)}"
        )
    if json_path:
        json_path.write_text(json.dumps({"database": engine, "owners": owners, "pages": figures}, indent=2))
    if smoke:
        print("Smoke run: every page answered; at this size the figures and targets say nothing."
              if passed else "SMOKE RUN FAILED: a page did not answer 200 (see above).")  # fmt: skip
    return passed


if __name__ == "__main__":
    main()

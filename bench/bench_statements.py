"""Reimbursement statements, timed on a fresh database, in a process of their own as the worker
makes them: a month's statement of 200 sessions finalised with its PDF (content, CSV, HTML, PDF, each
with its SHA-256), and a year of twelve statements (each with its PDF) for a car with 51,000
sessions of history, one a day (so each month holds about 30).

    .venv/bin/python bench/bench_statements.py                 # SQLite
    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_statements.py
    .venv/bin/python bench/bench_statements.py --smoke         # every step, small sizes, in seconds

Targets: the month of 200 sessions as PDF ≤ 1 s, with the process's peak memory ≤ 150 MB; the year
of twelve statements ≤ 10 s. The test suite runs the --smoke size (tests/bench/test_smoke.py).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_io import bench_environment, database_for_run
from served import peak_mb

PDF_SECONDS, PDF_MB, YEAR_SECONDS = 1.0, 150, 10.0
SIZES = {"month": 200, "history": 51_000}
SMOKE = {"month": 20, "history": 1_200}


def child_build(sizes_json: str) -> None:
    """Migrate; an owner with a car of `month` sessions last month, and one of `history` sessions, one a
    day, to the end of last month."""
    import datetime as dt
    import random
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from cars_app.models import Car
    from plugtrack_site.accounts import owner_account_ensure
    from sessions_app.models import ChargingSession
    from sessions_app.services import sessions_sequence_recompute
    from sessions_app.totals import month_label_totals_rebuild

    call_command("migrate", verbosity=0)
    sizes = json.loads(sizes_json)
    user, _ = owner_account_ensure(username="bench", password="bench-password-123")
    last_month_end = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    rng = random.Random(7)
    places = [("Home", ""), ("Home", ""), ("Home", ""), ("Tesco Extra Leeds", "Pod Point"),
              ("Gridserve Rugby", "Gridserve")]  # fmt: skip
    cars = {}
    # The history: one session a day (a daily commute's charge), so a month of it holds about 30.
    for name, count, days in (("month", sizes["month"], last_month_end.day),
                              ("history", sizes["history"], sizes["history"])):  # fmt: skip
        car = Car.objects.create(user=user, name=name, make="Kia", model="Niro EV", battery_kwh=Decimal("64.8"))
        first = last_month_end - dt.timedelta(days=days - 1)
        odometer, rows = 1_000, []
        for index in range(count):
            label, network = rng.choice(places)
            kwh = Decimal(rng.randint(50, 400)) / 10
            odometer += rng.randint(20, 120)
            cost = (kwh * Decimal("0.075" if label == "Home" else "0.79")).quantize(Decimal("0.01"))
            rows.append(ChargingSession(
                user=user, car=car, date=first + dt.timedelta(days=index * days // count), odometer=odometer,
                charge_type="AC" if label == "Home" else "DC", location_label=label, charge_network=network,
                charge_delivered_kwh=kwh, total_cost_gbp=cost if index % 3 else None,
            ))  # fmt: skip
        ChargingSession.objects.bulk_create(rows, batch_size=2_000)
        sessions_sequence_recompute(car_ids=[car.pk])
        month_label_totals_rebuild(car_ids=[car.pk])
        cars[name] = car.pk
    print(json.dumps({"user_id": user.pk, "cars": cars, "last_month": last_month_end.replace(day=1).isoformat()}))


def child_time(built_json: str) -> None:
    """As the worker: the month's statement finalised with its PDF (time, peak memory), then twelve."""
    import datetime as dt
    from decimal import Decimal

    import django

    django.setup()
    from django.contrib.auth.models import User

    from cars_app.models import Car
    from statements.compute import StatementRequest
    from statements.services import statement_finalise

    built = json.loads(built_json)
    user = User.objects.get(pk=built["user_id"])
    last_month = dt.date.fromisoformat(built["last_month"])
    month_car, history_car = (Car.objects.get(pk=built["cars"][name]) for name in ("month", "history"))
    # Warm what a worker has warm after its first statement (templates, WeasyPrint's fonts): one other month.
    earlier = (last_month - dt.timedelta(days=1)).replace(day=1)
    statement_finalise(request=StatementRequest(user=user, car=month_car, month=earlier, scheme="uk-aer"))
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    started = time.perf_counter()
    month = statement_finalise(request=StatementRequest(user=user, car=month_car, month=last_month, scheme="uk-aer",
                                                        business_miles=Decimal(812))).statement  # fmt: skip
    month_seconds = time.perf_counter() - started
    month_mb = peak_mb()
    months, day = [], last_month
    for _ in range(12):
        months.append(day)
        day = (day - dt.timedelta(days=1)).replace(day=1)
    started = time.perf_counter()
    year = [statement_finalise(request=StatementRequest(user=user, car=history_car, month=first, scheme="uk-aer"))
            for first in months]  # fmt: skip
    year_seconds = time.perf_counter() - started
    print(json.dumps({
        "month_sessions": len(json.loads(month.content)["sessions"]), "month_seconds": month_seconds,
        "month_mb": month_mb, "pdf_bytes": len(bytes(month.pdf or b"")),
        "year_sessions": sum(len(json.loads(made.statement.content)["sessions"]) for made in year),
        "history_sessions": history_car.sessions.count(), "year_seconds": year_seconds, "year_mb": peak_mb(),
    }))  # fmt: skip


def child(step: str, environment: dict, argument: str) -> dict:
    result = subprocess.run([sys.executable, __file__, f"--child-{step}", argument], env=environment,
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode:
        sys.exit(f"{step} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="Every step at small sizes (figures mean nothing).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument("--child-build", help=argparse.SUPPRESS)
    parser.add_argument("--child-time", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_build:
        return child_build(options.child_build)
    if options.child_time:
        return child_time(options.child_time)
    sizes = SMOKE if options.smoke else SIZES
    with tempfile.TemporaryDirectory(prefix="plugtrack-bench-statements-") as temporary:
        workdir = Path(temporary)
        url, drop = database_for_run(workdir)
        environment = bench_environment(url, workdir) | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        try:
            built = child("build", environment, json.dumps(sizes))
            figures = child("time", environment, json.dumps(built))
        finally:
            drop()
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    checks = [
        ("month of sessions as PDF (finalised)", f"{figures['month_sessions']} sessions",
         f"{figures['month_seconds']:.2f} s, {figures['month_mb']:.0f} MB peak",
         figures["month_seconds"] <= PDF_SECONDS and figures["month_mb"] <= PDF_MB,
         f"≤ {PDF_SECONDS} s, ≤ {PDF_MB} MB"),
        ("a year of twelve statements", f"{figures['year_sessions']:,} of {figures['history_sessions']:,} sessions",
         f"{figures['year_seconds']:.2f} s", figures["year_seconds"] <= YEAR_SECONDS, f"≤ {YEAR_SECONDS} s"),
    ]  # fmt: skip
    print(f"Statements on {engine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"PDF {figures['pdf_bytes']:,} bytes")  # fmt: skip
    print(f"{'what':<40}{'size':>28}{'figure':>24}  target")
    for what, size, figure, met, target in checks:
        print(f"{what:<40}{size:>28}{figure:>24}  {target} {'ok' if met else 'MISS'}")
    if options.json:
        options.json.write_text(json.dumps({"database": engine, **figures}, indent=2))
    if options.smoke:
        print("Smoke run: every step ran; at this size the figures and targets say nothing.")
    elif not all(check[3] for check in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()

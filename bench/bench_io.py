"""Benchmark of PlugTrack's data operations against a plain `csv` + `bulk_create` baseline.

    .venv/bin/python bench/bench_io.py                  # 50,000 generated sessions, fresh SQLite
    .venv/bin/python bench/bench_io.py --rows 500000
    .venv/bin/python bench/bench_io.py --file real.csv  # a sessions CSV of your own
    DATABASE_URL=postgres://user@host:port/db .venv/bin/python bench/bench_io.py
    .venv/bin/python bench/bench_io.py --json figures.json
    .venv/bin/python bench/bench_io.py --smoke           # every step at 200 rows, in seconds

One run makes a fresh database (a temporary SQLite file, or a new PostgreSQL database next to
the one DATABASE_URL names, dropped afterwards) and times each step in a child process of its
own, so that each peak memory figure is that step's alone. Times cover the operation only, not
Python and Django starting. The test suite runs the --smoke size (tests/bench/test_smoke.py):
generated rows plus one that validation refuses, taken through --file's path, so that one short
run passes every step; at that size the figures say nothing, only that each step still works.
"""

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEPS = [
    ("raw", "raw csv + bulk_create (baseline)", None),
    ("import", "import, new rows", 2.0),
    ("reimport", "re-import, all duplicates", 1.0),
    ("dryrun", "dry-run import", 1.5),
    ("export", "export", 1.0),
    ("backup", "backup create", 1.5),
    ("merge", "merge restore, empty account", 2.5),
    ("replace", "replace restore (+ automatic backup)", 4.0),
    ("spreadsheet", "import, own file mapped (see below)", 3.0),
]
# The same rows as an owner's own file, as LibreOffice saves it in a German locale: other headings in
# another order, semicolons, decimal commas, day-first dates, energy in Wh and durations as "4h20m",
# read through a mapping (sessions_app/imports/formats/mapping.py) with those units. Target: within 1.5x
# of the import of PlugTrack's own file.
SPREADSHEET_TARGET = 1.5
SMOKE_ROWS = 200
# A row every import refuses (no such date, no number), added to the smoke run's generated file.
REFUSED_ROW = ["2025-13-45", "x", "AC", "7", "Home", "", "10"] + [""] * 7


# --- the parent: data, database, children, table -------------------------------------------


def generate_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Sessions shaped like a UK owner's: mostly home AC, some rapid DC, real-looking values."""
    from sessions_app.imports.csv_format import HEADER

    rng = random.Random(seed)
    day, odometer = dt.date(1990, 1, 1), 1000
    sites = [
        ("Home driveway", "Octopus", "0.075", "7", "AC"),
        ("Tesco Extra Leeds", "Pod Point", "0.49", "7", "AC"),
        ("Gridserve Braintree", "GRIDSERVE", "0.79", "75", "DC"),
        ("InstaVolt Winchester", "InstaVolt", "0.85", "50", "DC"),
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            day += dt.timedelta(days=rng.choice([0, 0, 1, 1, 2]))
            label, network, price, power, kind = sites[0] if rng.random() < 0.75 else rng.choice(sites[1:])
            soc_from = rng.randint(10, 50)
            soc_to = min(100, soc_from + rng.randint(20, 60))
            kwh = round(64.8 * (soc_to - soc_from) / 100, 3)
            odometer += max(1, round(kwh * rng.uniform(3.0, 4.4)))
            total = "" if index % 3 else f"{float(price) * kwh:.2f}"
            writer.writerow([day.isoformat(), odometer, kind, power, label, network, kwh,
                             round(kwh / float(power) * 66), price, total, soc_from, soc_to,
                             round(rng.uniform(-3, 24), 1), "" if index % 7 else "note, with a comma"])  # fmt: skip


def database_for_run(workdir: Path) -> tuple[str, callable]:
    """A fresh database URL for this run, and how to drop it afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    import psycopg

    base, _, named = url.rpartition("/")
    named, mark, query = named.partition("?")
    name = f"{named}_bench_{os.getpid()}"  # beside DATABASE_URL's database, named after it
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return f"{base}/{name}{mark}{query}", drop


def bench_environment(url: str, workdir: Path) -> dict[str, str]:
    """What a benchmark's processes run with: production settings, the run's database and folder."""
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "plugtrack_site.settings",
        "DATABASE_URL": url,
        "DEBUG": "False",  # DEBUG keeps every query in memory
        "SECRET_KEY": "bench-only",
        "PLUGTRACK_ENCRYPTION_KEYS": "9qn4U-HwRM-M28xFa4T8ZmYx2Ou7aHh17qV_hq-hxW8=",
        "PLUGTRACK_DATA_DIR": str(workdir / "data"),
        "LOG_LEVEL": "WARNING",
    }


def run_child(step: str, environment: dict, csv_path: Path, workdir: Path) -> dict:
    command = [sys.executable, __file__, "--child", step, "--file", str(csv_path), "--workdir", str(workdir)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"step {step} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="Sessions to generate (default 50,000).")
    parser.add_argument("--file", type=Path, help="Use this sessions CSV instead of generating one.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--smoke", action="store_true",
        help=f"Check that every step runs: {SMOKE_ROWS} generated rows and one refused, through --file's path.",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return child(options.child, options.file, options.workdir)

    with tempfile.TemporaryDirectory(prefix="plugtrack-bench-") as temporary:
        workdir = Path(temporary)
        csv_path = options.file or workdir / "sessions.csv"
        url, drop = database_for_run(workdir)
        environment = bench_environment(url, workdir)
        try:
            if not options.file:
                rows = SMOKE_ROWS if options.smoke else options.rows
                run_child(f"generate:{rows}{':refused' if options.smoke else ''}", environment, csv_path, workdir)
            run_child("setup", environment, csv_path, workdir)
            if options.file or options.smoke:
                # Real files have rows PlugTrack refuses; every step (the raw insert included)
                # gets the rows an --allow-partial import would take.
                dropped = run_child("valid_rows", environment, csv_path, workdir)["dropped"]
                print(f"{csv_path.name}: {dropped} row(s) refused by validation are left out of the run.")
                csv_path = workdir / "valid.csv"
            run_child("spreadsheet_file", environment, csv_path, workdir)
            results = [run_child(step, environment, csv_path, workdir) | {"step": step} for step, _, _ in STEPS]
        finally:
            drop()
    report(results, options, url)


def report(results: list[dict], options, url: str) -> None:
    raw_seconds = results[0]["seconds"]
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{results[0]['rows']:,} sessions on {engine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'step':<38}{'rows':>9}{'seconds':>9}{'rows/s':>9}{'peak MB':>9}{'× raw':>7}{'target':>8}")
    for (_step, label, target), result in zip(STEPS, results, strict=True):
        ratio = result["seconds"] / raw_seconds
        result |= {"label": label, "ratio": round(ratio, 2), "target": target}
        verdict = "" if target is None else (f"≤{target} ok" if ratio <= target else f"≤{target} MISS")
        rate = result["rows"] / result["seconds"] if result["seconds"] else 0
        print(
            f"{label:<38}{result['rows']:>9,}{result['seconds']:>9.2f}{rate:>9,.0f}"
            f"{result['peak_mb']:>9.0f}{ratio:>7.2f}{verdict:>12}"
        )
    by_step = {result["step"]: result for result in results}
    ratio = by_step["spreadsheet"]["seconds"] / by_step["import"]["seconds"]
    verdict = "ok" if ratio <= SPREADSHEET_TARGET else "MISS"
    print(f"own file mapped / PlugTrack's own file, import: {ratio:.2f}x (≤{SPREADSHEET_TARGET} {verdict})")
    if options.smoke:
        print("Smoke run: every step ran; at this size the figures and targets say nothing.")
    if options.json:
        options.json.write_text(json.dumps({"database": engine, "results": results}, indent=2))


# --- a child: one step, timed ---------------------------------------------------------------


def child(step: str, csv_path: Path, workdir: Path) -> None:
    import resource

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plugtrack_site.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User

    from cars_app.models import Car

    if step.startswith("generate:"):
        _, rows, *refused = step.split(":")
        generate_csv(csv_path, int(rows))
        if refused:
            with csv_path.open("a", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerow(REFUSED_ROW)
        print(json.dumps({}))
        return
    if step == "spreadsheet_file":
        spreadsheet_write(csv_path, workdir / "spreadsheet.csv")
        print(json.dumps({}))
        return
    if step == "valid_rows":
        print(json.dumps({"dropped": write_valid_rows(csv_path, workdir / "valid.csv")}))
        return
    if step == "setup":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        for name in ("raw", "bench", "empty", "sheet"):
            user = User.objects.create_user(name)
            for car_name in ("A", "B"):
                Car.objects.create(user=user, name=car_name, make="Kia", model="Niro EV", battery_kwh=64.8)
        print(json.dumps({}))
        return

    user = User.objects.get(username={"raw": "raw", "spreadsheet": "sheet"}.get(step, "bench"))
    car = Car.objects.get(user=user, name="A")
    started = time.perf_counter()
    rows = STEP_FUNCTIONS[step](user=user, car=car, csv_path=csv_path, workdir=workdir)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": round(seconds, 3), "peak_mb": round(peak_mb, 1)}))


def write_valid_rows(source: Path, target: Path) -> int:
    """Copy `source` without the rows a dry-run import lists as errors. Returns how many were left out."""
    from django.contrib.auth.models import User

    from cars_app.models import Car
    from sessions_app.imports.csv_format import csv_records
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import

    copy = shutil.copy(source, target.with_name("source.csv"))  # so the .err.csv lands in our temp folder
    user = User.objects.create_user("scratch")
    # (the battery of the car the steps import into: the same rows pass its bounds)
    car = Car.objects.create(user=user, name="scratch", make="-", model="-", battery_kwh=64.8)
    report = charging_sessions_import(
        user=user, car=car, source=copy,
        options=ImportOptions(dry_run=True, allow_partial=True),
    )
    if not report.error_file:
        shutil.copy(source, target)
        return 0
    with open(report.error_file, encoding="utf-8", newline="") as handle:
        bad_lines = {int(row["row"]) for row in csv.DictReader(handle)}
    with source.open(encoding="utf-8-sig", newline="") as reader, target.open("w", newline="") as writer:
        out = csv.writer(writer)
        for line, record in csv_records(reader, source.name):
            if line not in bad_lines:
                out.writerow(record)
    return len(bad_lines)


def step_raw(*, user, car, csv_path, workdir) -> int:
    """What an import would cost with no validation, no duplicate check, no report: the floor."""
    from sessions_app.models import ChargingSession

    batch, count = [], 0
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            batch.append(
                ChargingSession(user=user, car=car, **{k: (v or None) if k != "notes" else v for k, v in row.items()})
            )
            if len(batch) == 1000:
                ChargingSession.objects.bulk_create(batch)
                count += len(batch)
                batch = []
    ChargingSession.objects.bulk_create(batch)
    return count + len(batch)


def step_import(*, user, car, csv_path, workdir, dry_run=False) -> int:
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import

    report = charging_sessions_import(user=user, car=car, source=csv_path, options=ImportOptions(dry_run=dry_run))
    assert report.ok, report.errors[:3]
    return report.rows_read


def step_dry_run(*, user, car, csv_path, workdir) -> int:
    from cars_app.models import Car

    return step_import(
        user=user, car=Car.objects.get(user=user, name="B"), csv_path=csv_path, workdir=workdir, dry_run=True
    )


def step_export(*, user, car, csv_path, workdir) -> int:
    from sessions_app.imports.csv_io import charging_sessions_export

    return charging_sessions_export(user=user, car=car, target=workdir / "export.csv")


def step_backup(*, user, car, csv_path, workdir) -> int:
    from backups.services import backup_create

    return backup_create(user=user, target=workdir / "backup.zip").sessions


def step_restore(*, user, car, csv_path, workdir, mode="merge") -> int:
    from django.contrib.auth.models import User

    from backups.services import backup_restore

    target = User.objects.get(username="empty") if mode == "merge" else user
    report = backup_restore(user=target, source=workdir / "backup.zip", mode=mode)
    assert report.ok
    return report.sessions.rows_read


def step_spreadsheet(*, user, car, csv_path, workdir) -> int:
    from sessions_app.imports.choices import ImportChoices
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
    from sessions_app.imports.formats.mapping import ColumnMapping

    sheet = workdir / "spreadsheet.csv"  # written by the untimed "spreadsheet_file" step
    units = {"charge_delivered_kwh": "wh", "duration_mins": "hms"}
    mapping = ColumnMapping(headings=SHEET_HEADINGS, units=units, name="bench")
    report = charging_sessions_import(
        user=user, car=car, source=sheet,
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(mapping=mapping)),
    )
    assert report.ok, report.errors[:3]
    return report.rows_read


SHEET_HEADINGS = {"date": "Tag", "odometer": "Tacho", "charge_type": "Art", "charge_power_kw": "Leistung",
                  "location_label": "Wo", "charge_network": "Betreiber", "charge_delivered_kwh": "Strom (Wh)",
                  "duration_mins": "Dauer", "cost_per_kwh": "Preis/kWh", "total_cost_gbp": "Kosten",
                  "soc_from": "Akku vorher", "soc_to": "Akku nachher", "ambient_temp_c": "Außen",
                  "notes": "Notizen"}  # fmt: skip


def spreadsheet_write(source: Path, target: Path) -> None:
    headings = SHEET_HEADINGS
    order = list(reversed(headings))
    with source.open(newline="", encoding="utf-8") as reading, target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        rows = csv.DictReader(reading)
        writer.writerow([headings[column] for column in order])
        for row in rows:
            year, month, day = row["date"].split("-")
            row["date"] = f"{day}.{month}.{year}"
            row["charge_delivered_kwh"] = str(int(Decimal(row["charge_delivered_kwh"]) * 1000))
            if row["duration_mins"]:
                row["duration_mins"] = f"{int(row['duration_mins']) // 60}h{int(row['duration_mins']) % 60}m"
            writer.writerow([row[column].replace(".", ",") if column not in ("date", "notes", "location_label")
                             else row[column] for column in order])  # fmt: skip


STEP_FUNCTIONS = {
    "raw": step_raw,
    "import": step_import,
    "reimport": step_import,
    "dryrun": step_dry_run,
    "export": step_export,
    "backup": step_backup,
    "merge": step_restore,
    "replace": lambda **kwargs: step_restore(**kwargs, mode="replace"),
    "spreadsheet": step_spreadsheet,
}

if __name__ == "__main__":
    main()

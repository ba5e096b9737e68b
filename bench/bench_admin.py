"""The admin's import and restore against the command line's, in one run on a fresh database: the
web server and the background worker are real processes on 127.0.0.1, the file is uploaded over
HTTP as a browser sends it, and each step's time and each process's peak memory are printed.

    .venv/bin/python bench/bench_admin.py                     # 50,000 generated sessions, SQLite
    .venv/bin/python bench/bench_admin.py --rows 500000
    .venv/bin/python bench/bench_admin.py --file sessions_dundee.csv
    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_admin.py
    .venv/bin/python bench/bench_admin.py --smoke             # every step at 200 rows, in seconds

Steps: the command's dry run and import (`charging_sessions_import`, each in a process of its own,
into another owner); the admin's check (upload to report: the job page's dry run) and its import
once confirmed (confirm to done); the export of that car by the command (`sessions_export`'s
service) and through the admin's export page (downloaded over HTTP; the two files must be the same
bytes); then a replace restore through the admin of a backup of what it imported (upload to
report, confirm to done). Targets: the check ≤ 1.0x the command's dry run, the admin's import from
upload to done (check + run) ≤ 1.3x the command's import, the admin's export ≤ 1.2x the command's,
the web server's and the worker's peak ≤ 100 MB, whatever the size. The test suite runs the --smoke
size (tests/bench/test_smoke.py): every step, at a size whose figures say nothing.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench_io import generate_csv
from served import Server, Worker, confirm_url, owner_with_a_car, peak_mb, site_run, site_set_up

TARGETS = {"check": ("cli dry run", 1.0), "import": ("cli import", 1.3), "admin export": ("cli export", 1.2)}
PEAK_MB_TARGET = 100  # of the web server and of the worker, at any size
# How often the benchmark asks how the job is doing: a step's time is late by at most this much (the job page
# asks every second, so a person sees the report up to a second later); a request costs the server a few ms.
POLL_SECONDS = 0.1
SMOKE_ROWS = 200


def child(step: str, environment: dict, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", step, *args], env=environment, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"{step} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def run_child(step: str, *args: str) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User

    from backups.services import backup_create
    from cars_app.models import Car
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_export, charging_sessions_import

    if step == "generate":
        generate_csv(Path(args[0]), int(args[1]))
        print(json.dumps({}))
        return
    if step == "setup":
        site_set_up()
        cli = User.objects.create_user("cli")
        Car.objects.create(user=cli, name="Niro", make="Kia", model="Niro EV", battery_kwh=64.8)
        print(json.dumps(owner_with_a_car()))
        return
    if step == "backup":  # of the admin's owner, for the restore
        print(json.dumps({"path": backup_create(user=User.objects.get(username="bench"), target=args[0]).path}))
        return
    if step == "cli export":  # the car the admin imported into, as `sessions_export` writes it
        user = User.objects.get(username="bench")
        started = time.perf_counter()
        charging_sessions_export(user=user, car=Car.objects.get(user=user), target=args[0])
        seconds = time.perf_counter() - started
        digest = hashlib.sha256(Path(args[0]).read_bytes()).hexdigest()
        print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "sha256": digest}))
        return
    user = User.objects.get(username="cli")
    car = Car.objects.get(user=user)
    started = time.perf_counter()
    report = charging_sessions_import(
        user=user, car=car, source=args[0],
        options=ImportOptions(dry_run=step == "cli dry run", allow_partial=True, error_file=False),
    )
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "rows": report.rows_read}))


def admin_job(server: Server, worker: Worker, login: dict, url: str, fields: dict, path: Path, file_field: str):
    """Upload, wait for the check's report, confirm, wait for the run: the two steps' figures."""
    steps = []
    server.peak_mb_reset()
    worker.peak_mb_reset()
    started = time.perf_counter()
    status, job_url, _ = server.post_form(url, login["cookies"], fields, path, file_field)
    assert status == 302, f"the upload was refused ({status})"
    page = server.job_finished(job_url, login["cookies"], POLL_SECONDS)
    steps.append({"seconds": time.perf_counter() - started, "web_mb": server.peak_mb(), "worker_mb": worker.peak_mb()})
    confirm = confirm_url(page)
    if not confirm:
        said = re.findall(r'<(?:li class="error"|p class="errornote")>(.*?)</', page, re.S)
        raise SystemExit(f"the check offered nothing to confirm: {' / '.join(text.strip() for text in said)}")
    server.peak_mb_reset()
    worker.peak_mb_reset()
    started = time.perf_counter()
    server.post_form(confirm, login["cookies"], {"allow_partial": "on"})
    page = server.job_finished(job_url, login["cookies"], POLL_SECONDS)
    failed = re.search(r'<li class="error">(.*?)</li>', page, re.S)
    assert not failed, f"the run failed: {failed and failed.group(1).strip()}"
    steps.append({"seconds": time.perf_counter() - started, "web_mb": server.peak_mb(), "worker_mb": worker.peak_mb()})
    return steps


def admin_export(server: Server, login: dict) -> dict:
    """The export page's download of the car's sessions, read as a browser saves it."""
    server.peak_mb_reset()
    started = time.perf_counter()
    fields = {"car": login["car_id"], "date_from": "", "date_to": ""}
    status, _size, digest = server.post_form(EXPORT_URL, login["cookies"], fields, download=True)
    assert status == 200, f"the export failed ({status})"
    return {"seconds": time.perf_counter() - started, "web_mb": server.peak_mb(), "sha256": digest}


IMPORT_URL = "/admin/sessions_app/chargingsession/import/"
EXPORT_URL = "/admin/sessions_app/chargingsession/export/"
RESTORE_URL = "/admin/backups/backup/restore/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="Sessions to generate (default 50,000).")
    parser.add_argument("--file", type=Path, help="Use this sessions CSV instead of generating one.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument("--smoke", action="store_true", help=f"Check that every step runs, at {SMOKE_ROWS} rows.")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return run_child(*options.child)

    # A 500,000-row file is about 80 MB: leave room.
    with site_run("plugtrack-bench-admin-", PLUGTRACK_MAX_UPLOAD_MB="1024") as site:
        workdir, environment = site.workdir, site.environment
        csv_path = options.file or workdir / "sessions.csv"
        login = child("setup", environment)
        if not options.file:
            child("generate", environment, str(csv_path), str(SMOKE_ROWS if options.smoke else options.rows))
        rows = {}
        for step in ("cli dry run", "cli import"):
            rows[step] = child(step, environment, str(csv_path))
        worker, server = Worker(environment), Server(environment)  # the worker boots while the server does
        try:
            check, run = admin_job(server, worker, login, IMPORT_URL, {"car": login["car_id"]}, csv_path, "import_file")
            rows["check"], rows["import"] = check, {**run, "seconds": check["seconds"] + run["seconds"]}
            rows["cli export"] = child("cli export", environment, str(workdir / "export.csv"))
            rows["admin export"] = admin_export(server, login)
            assert rows["admin export"].pop("sha256") == rows["cli export"].pop("sha256"), "the exports differ"
            backup = Path(child("backup", environment, str(workdir / "backup.zip"))["path"])
            check, run = admin_job(server, worker, login, RESTORE_URL, {"mode": "replace"}, backup, "backup_file")
            rows["restore check"], rows["replace restore"] = check, run
        finally:
            server.stop()
            worker.stop()
    report(rows, url=site.database_url, sessions=rows["cli import"]["rows"], json_path=options.json)
    if options.smoke:
        print("Smoke run: every step ran; at this size the figures and targets say nothing.")


def report(rows: dict, *, url: str, sessions: int, json_path: Path | None) -> None:
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{sessions:,} sessions on {engine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'step':<34}{'seconds':>9}{'rows/s':>9}{'web MB':>8}{'worker MB':>10}{'ratio':>7}  target")
    for step, figures in rows.items():
        ratio, target = "", ""
        if step in TARGETS:
            against, bound = TARGETS[step]
            value = figures["seconds"] / rows[against]["seconds"]
            ratio, target = f"{value:.2f}", f"≤{bound} vs {against}: {'ok' if value <= bound else 'MISS'}"
        memory = f"{figures.get('web_mb', 0):>8.0f}{figures.get('worker_mb', figures.get('peak_mb', 0)):>10.0f}"
        if max(figures.get("web_mb", 0), figures.get("worker_mb", 0)) > PEAK_MB_TARGET:
            target += f" web/worker peak over {PEAK_MB_TARGET} MB: MISS"
        rate = sessions / figures["seconds"]
        label = {"check": "admin check (upload to report)", "import": "admin import (upload to done)"}.get(step, step)
        print(f"{label:<34}{figures['seconds']:>9.2f}{rate:>9,.0f}{memory}{ratio:>7}  {target}")
    if json_path:
        json_path.write_text(json.dumps({"database": engine, "sessions": sessions, "steps": rows}, indent=2))


if __name__ == "__main__":
    main()

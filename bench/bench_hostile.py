"""Hostile files against PlugTrack: each one is built here, then sent through the command line and
through the admin (a real server on 127.0.0.1, the file streamed over HTTP like a browser's
upload), and each run is timed and its peak memory read.

    .venv/bin/python bench/bench_hostile.py                 # fresh SQLite
    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_hostile.py
    .venv/bin/python bench/bench_hostile.py --only cars     # the cases whose name has "cars"
    .venv/bin/python bench/bench_hostile.py --smoke         # the small cases, in seconds

Through the admin, the upload goes to the web server and its check to the background worker (both
real processes); the time runs from the upload's first byte to the job's report. Target: every
case refused (or, for the one legitimate case, completed) in at most 5 s and 150 MB peak RSS of
each process doing the work, with a message a person can act on, and nothing written. Peak MB is
the whole process (Django alone is about 60 MB). The test suite runs the --smoke run
(tests/bench/test_smoke.py): the cases whose files are small (each kind, each way in, the one that
completes), and the upload limit lowered to 8 MB for a 10 MB file; each must be refused (or complete)
as expected with nothing written, but its time and memory are not judged.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from served import MB, Server, Worker, owner_with_a_car, peak_mb, site_run, site_set_up

SECONDS_TARGET, PEAK_MB_TARGET = 5.0, 150
SESSIONS_HEADER = (
    "date,odometer,charge_type,charge_power_kw,location_label,charge_network,charge_delivered_kwh,"
    "duration_mins,cost_per_kwh,total_cost_gbp,soc_from,soc_to,ambient_temp_c,notes"
)
CARS_HEADER = (
    "id,name,make,model,battery_kwh,efficiency_mpkwh,recommended_full_charge_enabled,"
    "recommended_full_charge_frequency_value,recommended_full_charge_frequency_unit,notes,active"
)


# --- the hostile files ------------------------------------------------------------------------


def write_chunks(path: Path, *parts: bytes | Iterator[bytes]) -> Path:
    """Write `parts` (bytes, or iterators of chunks) to `path` without holding the file in memory."""
    with path.open("wb") as handle:
        for part in parts:
            for chunk in [part] if isinstance(part, bytes) else part:
                handle.write(chunk)
    return path


def csv_wide_header(folder: Path) -> Path:
    header = ",".join(f"c{i}" for i in range(100_000))  # 689 KB
    return write_chunks(folder / "wide.csv", header.encode(), b"\n2025-01-01\n")


def csv_without_line_breaks(size_mb: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        row = b"2025-01-01,1000,AC,7,Home,Octopus,30,200,0.07,2.1,20,80,8,"
        block = row * (MB // len(row))
        return write_chunks(
            folder / f"one-line-{size_mb}mb.csv", SESSIONS_HEADER.encode() + b"\n", (block for _ in range(size_mb))
        )

    return build


def csv_huge_quoted_cell(folder: Path) -> Path:
    start = SESSIONS_HEADER.encode() + b'\n2025-01-01,1000,AC,7,Home,Octopus,30,200,0.07,2.1,20,80,8,"'
    lines = b"a line of a note that never ends\n" * (MB // 33)
    return write_chunks(folder / "huge-cell.csv", start, (lines for _ in range(100)), b'"\n')


def csv_many_cells(folder: Path) -> Path:
    """1,000 rows of 20,000 cells each (40 MB): every row an error, each under the row length limit."""
    row = b"x," * 19_999 + b"x\n"
    return write_chunks(folder / "many-cells.csv", SESSIONS_HEADER.encode() + b"\n", (row * 100 for _ in range(10)))


def csv_long_notes(folder: Path) -> Path:
    """20,000 rows whose note has 10,001 characters (one over the limit): every row an error."""
    row = b"2025-01-01,1000,AC,7,Home,Octopus,30,200,0.07,2.1,20,80,8," + b"n" * 10_001 + b"\n"
    return write_chunks(folder / "long-notes.csv", SESSIONS_HEADER.encode() + b"\n", (row * 100 for _ in range(200)))


def csv_junk_rows(folder: Path) -> Path:
    """3,000,000 rows of one cell each (6 MB): every row an error."""
    return write_chunks(folder / "junk.csv", SESSIONS_HEADER.encode() + b"\n", (b"x\n" * 100_000 for _ in range(30)))


def backup_zip(path: Path, members: dict[str, bytes | Callable[[], Iterator[bytes]]]) -> Path:
    """A ZIP of a backup's members (bytes, or a function streaming them); the checksums are not
    made to match, as every hostile case is refused before they are compared."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, bytes):
                archive.writestr(name, content)
            else:
                with archive.open(name, "w", force_zip64=True) as member:
                    for chunk in content():
                        member.write(chunk)
    return path


def base_members(cars: int = 1, sessions_per_car: int = 1) -> dict[str, bytes]:
    """A well-formed backup of `cars` cars, resealed by PlugTrack's own rules (see seal)."""
    car_rows = [f"{i},Car {i},Kia,Niro EV,64.8,,0,1,months,,1" for i in range(cars)]
    session_rows = [
        f"{car},2025-01-{1 + n % 28:02},{1000 + n},AC,7,Home,,20,,,,,,,"
        for car in range(cars)
        for n in range(sessions_per_car)
    ]
    return {
        "schema_version.txt": b"3\n",
        "cars.csv": "\n".join([CARS_HEADER, *car_rows, ""]).encode(),
        "sessions.csv": "\n".join([f"car_id,{SESSIONS_HEADER}", *session_rows, ""]).encode(),
        "settings.json": b'{"petrol_mpg": "55"}',
    }


def seal(members: dict[str, bytes]) -> dict[str, bytes]:
    """Add the manifest a PlugTrack backup of these members would have."""
    import hashlib

    manifest = {
        "app": "PlugTrack", "version": "bench", "schema_version": 3, "created_at": "2026-11-25T00:00:00Z",
        "user_id": 1, "username": "bench",
        "counts": {
            "cars": members["cars.csv"].count(b"\n") - 1,
            "sessions": members["sessions.csv"].count(b"\n") - 1,
            "settings": members["settings.json"].count(b":"),
        },
        "members": {name: {"sha256": hashlib.sha256(data).hexdigest()} for name, data in members.items()},
    }  # fmt: skip
    return {"manifest.json": json.dumps(manifest).encode(), **members}


def zip_many_cars(cars: int) -> Callable[[Path], Path]:
    return lambda folder: backup_zip(folder / f"cars-{cars}.zip", seal(base_members(cars)))


def zip_huge_cell_within_ratio(folder: Path) -> Path:
    """sessions.csv holds one 400 MB cell that deflates about 90:1 (under the 100:1 bomb check)."""
    rng = random.Random(1)

    def sessions() -> Iterator[bytes]:
        yield f'car_id,{SESSIONS_HEADER}\n0,2025-01-01,1000,AC,7,Home,,20,,,,,,,"'.encode()
        block = b"".join(b"x" * 175 + bytes([rng.randrange(97, 123)]) for _ in range(MB // 176))
        for _ in range(400):
            yield block
        yield b'"\n'

    return backup_zip(folder / "huge-cell.zip", seal(base_members()) | {"sessions.csv": sessions})


def zip_many_car_ids(folder: Path) -> Path:
    """sessions.csv naming 5,000,000 different cars (cars.csv has one)."""

    def sessions() -> Iterator[bytes]:
        yield f"car_id,{SESSIONS_HEADER}\n".encode()
        for start in range(0, 5_000_000, 100_000):
            yield "".join(f"{i},2025-01-01,1,AC,,,,1,,,,,,,\n" for i in range(start, start + 100_000)).encode()

    return backup_zip(folder / "car-ids.zip", seal(base_members()) | {"sessions.csv": sessions})


def zip_many_entries(folder: Path) -> Path:
    return backup_zip(folder / "entries.zip", {f"f{i}": b"" for i in range(70_000)})


def zip_deep_json(member: str, levels: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        opening, closing = (b"[", b"]") if member == "manifest.json" else (b'{"a":', b"}")
        deep = opening * levels + b"1" + closing * levels
        if member == "manifest.json":
            return backup_zip(folder / "deep-manifest.zip", seal(base_members()) | {member: deep})
        return backup_zip(folder / f"deep-{member}.zip", seal(base_members() | {member: deep}))

    return build


def zip_large_settings(folder: Path) -> Path:
    """settings.json of 2 MB (the limit is 1 MiB)."""
    settings = json.dumps({f"key_{i}": "x" * 100 for i in range(20_000)}).encode()
    return backup_zip(folder / "large-settings.zip", seal(base_members() | {"settings.json": settings}))


def zip_long_car_note(folder: Path) -> Path:
    """cars.csv whose car has a note of 60,000 characters (notes have at most 10,000)."""
    cars = f"{CARS_HEADER}\n0,Car 0,Kia,Niro EV,64.8,,0,1,months,{'n' * 60_000},1\n".encode()
    return backup_zip(folder / "long-car-note.zip", seal(base_members() | {"cars.csv": cars}))


def zip_bomb(folder: Path) -> Path:
    return backup_zip(folder / "bomb.zip", seal(base_members()) | {"sessions.csv": lambda: iter([b"0" * MB] * 500)})


@dataclass
class Case:
    name: str
    kind: str  # "csv" (sessions import) or "zip" (backup restore)
    build: Callable[[Path], Path]
    expect: str  # in the message a person sees, from the command and from the admin
    via: tuple[str, ...] = ("command line", "admin")
    completes: bool = False  # a legitimate file at the limit: it must go through
    exit_code: int = 2  # of the command: 2 the file refused, 1 its rows reported as errors
    smoke: bool = False  # small enough to build and send in a smoke run


CASES = [
    Case("CSV header of 100,000 columns (689 KB)", "csv", csv_wide_header, "the row is longer than", smoke=True),
    Case("CSV of 300 MB with no line break", "csv", csv_without_line_breaks(300), "the row is longer than",
         via=("command line",)),
    Case("CSV of 150 MB with no line break", "csv", csv_without_line_breaks(150), "the row is longer than"),
    Case("CSV with one 100 MB quoted cell", "csv", csv_huge_quoted_cell, "the row is longer than"),
    Case("CSV of 3,000,000 junk rows (6 MB)", "csv", csv_junk_rows, "Stopped reading at line 10001", exit_code=1,
         smoke=True),
    Case("CSV of 1,000 rows of 20,000 cells (40 MB)", "csv", csv_many_cells, "cells but the header has 14",
         exit_code=1),
    Case("CSV of 20,000 notes of 10,001 characters (200 MB)", "csv", csv_long_notes, "at most 10000 characters",
         exit_code=1, via=("command line",)),
    Case("CSV upload of 300 MB (over the upload limit)", "csv", csv_without_line_breaks(300), "larger than 200 MB",
         via=("admin",)),
    Case("ZIP of 67 KB with 5,000 cars", "zip", zip_many_cars(5_000), "more than 1,000 cars", smoke=True),
    Case("ZIP of 258 KB with 20,000 cars", "zip", zip_many_cars(20_000), "more than 1,000 cars"),
    Case("ZIP with 1,000 cars (the limit), dry run", "zip", zip_many_cars(1_000), "", completes=True, smoke=True),
    Case("ZIP whose sessions.csv has one 400 MB cell (90:1)", "zip", zip_huge_cell_within_ratio,
         "the row is longer than"),
    Case("ZIP whose sessions.csv names 5,000,000 cars", "zip", zip_many_car_ids, "more than 1,000 cars"),
    Case("ZIP with 70,000 entries", "zip", zip_many_entries, "70,000 entries"),
    Case("ZIP with manifest.json 100,000 levels deep", "zip", zip_deep_json("manifest.json", 100_000),
         "manifest.json would unpack to"),
    Case("ZIP with manifest.json 30,000 levels deep (60 KB)", "zip", zip_deep_json("manifest.json", 30_000),
         "nested more than 10", smoke=True),
    Case("ZIP with settings.json 100,000 levels deep", "zip", zip_deep_json("settings.json", 100_000),
         "nested more than 10"),
    Case("ZIP with a settings.json of 2 MB", "zip", zip_large_settings, "settings.json would unpack to", smoke=True),
    Case("ZIP whose car has a note of 60,000 characters", "zip", zip_long_car_note, "cars.csv line 2", smoke=True),
    Case("ZIP bomb (500 MB of zeros, 1000:1)", "zip", zip_bomb, "possible ZIP bomb"),
]  # fmt: skip
# A smoke run lowers the admin's upload limit so that a small file stands for the 300 MB one.
SMOKE_UPLOAD_MB = 8
SMOKE_CASES = [case for case in CASES if case.smoke] + [
    Case(f"CSV upload of 10 MB (limit lowered to {SMOKE_UPLOAD_MB} MB)", "csv", csv_without_line_breaks(10),
         f"larger than {SMOKE_UPLOAD_MB} MB", via=("admin",)),
]  # fmt: skip


# --- running a case -------------------------------------------------------------------------------


def run_cli(case: Case, path: Path, environment: dict) -> dict:
    """The case through its command, in a process of its own."""
    return json.loads(
        subprocess.run(
            [sys.executable, __file__, "--child-cli", case.kind, str(path), "1" if case.completes else "0"],
            env=environment, capture_output=True, text=True, check=True,
        ).stdout.splitlines()[-1]
    )  # fmt: skip


def child_cli(kind: str, path: str, dry_run: str) -> None:
    from io import StringIO

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    if kind == "csv":
        command = ["sessions_import", "--from", path, "--user", "bench"]
    else:
        command = ["backup_restore", "--from", path, "--user", "bench", "--mode", "replace", "--no-input"]
        command += ["--dry-run"] if dry_run == "1" else []
    output = StringIO()
    started = time.perf_counter()
    try:
        call_command(*command, stdout=output, stderr=output)
        code, message = 0, output.getvalue()
    except CommandError as error:
        code, message = error.returncode, f"{output.getvalue()}\n{error}"
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "code": code, "message": message[-2000:]}))


def run_admin(case: Case, path: Path, server: Server, worker: Worker, login: dict) -> dict:
    """The case as a browser sends it: the upload streamed over loopback, then its job's page once
    the worker has checked it. Peak MB: the larger of the web server's and the worker's."""
    if case.kind == "csv":
        url, fields, file_field = "/admin/sessions_app/chargingsession/import/", {"car": login["car_id"]}, "import_file"
    else:
        url, fields, file_field = "/admin/backups/backup/restore/", {"mode": "replace"}, "backup_file"
    server.peak_mb_reset()
    worker.peak_mb_reset()
    started = time.perf_counter()
    status, location, page = server.post_form(url, login["cookies"], fields, path, file_field)
    if status == 302:  # to the job's page
        status, page = 200, server.job_finished(location, login["cookies"])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": max(server.peak_mb(), worker.peak_mb()), "status": status, "page": page}


def child_setup() -> None:
    """Migrate, and make the owner the cases run as (one car), with a logged-in session."""
    import django

    django.setup()

    site_set_up()
    print(json.dumps(owner_with_a_car()))


def child_counts() -> None:
    """What is stored: the proof that no case wrote anything."""
    import django

    django.setup()
    from backups.models import Backup
    from cars_app.models import Car
    from jobs.models import Job
    from sessions_app.models import ChargingSession
    from settings_app.models import Setting

    counts = {model.__name__: model.objects.count() for model in (Car, ChargingSession, Setting, Backup)}
    # Each admin case leaves a job, its record (refused, or checked and waiting for Confirm); none may
    # be left running.
    counts["Job (queued or running)"] = Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).count()
    print(json.dumps(counts))


def child(step: str, environment: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, f"--child-{step}"], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="Run only the cases whose name contains this text.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--smoke", action="store_true",
        help="Check that the cases still run: the small ones, the upload limit lowered; time and memory not judged.",
    )  # fmt: skip
    parser.add_argument("--child-cli", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-counts", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_cli:
        return child_cli(*options.child_cli)
    if options.child_setup:
        return child_setup()
    if options.child_counts:
        return child_counts()

    cases = SMOKE_CASES if options.smoke else CASES
    cases = [case for case in cases if not options.only or options.only.lower() in case.name.lower()]
    rows = []
    smoke_limit = {"PLUGTRACK_MAX_UPLOAD_MB": str(SMOKE_UPLOAD_MB)} if options.smoke else {}
    with site_run("plugtrack-hostile-", **smoke_limit) as site:
        workdir, environment = site.workdir, site.environment
        login = child("setup", environment)
        before = child("counts", environment)
        worker, server = Worker(environment), Server(environment)  # the worker boots while the server does
        try:
            for case in cases:
                path = case.build(workdir)
                if "command line" in case.via:
                    rows.append(judge(case, "command line", run_cli(case, path, environment)))
                if "admin" in case.via:
                    result = run_admin(case, path, server, worker, login)
                    rows.append(judge(case, "admin", result))
                path.unlink()
        finally:
            server.stop()
            worker.stop()
        after = child("counts", environment)
        data = workdir / "data"
        # What the run left besides the uploads (each job's, kept for a day) and the collected static files.
        kept = {"uploads", "static"}
        leftovers = [p for p in data.rglob("*") if p.is_file() and not kept & set(p.relative_to(data).parts)]
    if not report(rows, site.database_url, before, after, leftovers, options.json, smoke=options.smoke):
        sys.exit(1)


def judge(case: Case, via: str, result: dict) -> dict:
    message = result.get("message") or result.get("page", "")
    if case.completes:
        ok = result.get("code", 0) == 0 and result.get("status", 200) == 200 and "Traceback" not in message
    else:
        ok = case.expect in message and result.get("code", case.exit_code) == case.exit_code
        ok = ok and result.get("status", 200) == 200
    within = result["seconds"] <= SECONDS_TARGET and result["peak_mb"] <= PEAK_MB_TARGET
    return {"case": case.name, "via": via, "seconds": round(result["seconds"], 2), "peak_mb": round(result["peak_mb"]),
            "completes": case.completes, "as_expected": ok, "within_target": within}  # fmt: skip


def report(
    rows: list[dict], url: str, before: dict, after: dict, leftovers: list[Path], json_path: Path | None,
    *, smoke: bool = False,
) -> bool:
    """Print the table; whether every case went as expected, within its bound (not judged in a smoke
    run), with nothing written."""
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"Hostile inputs on {engine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'case':<52}{'via':<14}{'seconds':>8}{'peak MB':>9}  outcome")
    for row in rows:
        outcome = "UNEXPECTED" if not row["as_expected"] else "completed" if row["completes"] else "refused"
        outcome += "" if row["within_target"] else f", OVER {SECONDS_TARGET:.0f} s / {PEAK_MB_TARGET} MB"
        print(f"{row['case']:<52}{row['via']:<14}{row['seconds']:>8.2f}{row['peak_mb']:>9}  {outcome}")
    print(f"Stored before and after: {'unchanged' if before == after else f'CHANGED {before} -> {after}'}; "
          f"files left in the data folder: {len(leftovers)}")  # fmt: skip
    if json_path:
        json_path.write_text(json.dumps({"database": engine, "rows": rows, "unchanged": before == after}, indent=2))
    within = smoke or all(row["within_target"] for row in rows)
    passed = all(row["as_expected"] for row in rows) and within and before == after and not leftovers
    if smoke:
        print("Smoke run: every case as expected, nothing written; time and memory not judged at this size."
              if passed else "SMOKE RUN FAILED (see above).")  # fmt: skip
    else:
        print("Every case within its bound, nothing written." if passed else "SOME CASES FAILED (see above).")
    return passed


if __name__ == "__main__":
    main()

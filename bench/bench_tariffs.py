"""Tariffs at scale, on a fresh database: the costs recompute of an owner's 51,000 sessions (a
preview, then the apply and its undo), and a year of half-hourly prices (17,520) fetched from a
local server in Octopus's shape, then fetched again (idempotent: nothing added). Each step runs in a
child process of its own, so that its peak memory is its own.

    .venv/bin/python bench/bench_tariffs.py                       # 51,000 sessions, SQLite
    DATABASE_URL=postgres://user@127.0.0.1:5432/db .venv/bin/python bench/bench_tariffs.py
    .venv/bin/python bench/bench_tariffs.py --smoke               # 600 sessions, two weeks of prices

The owner's sessions are bench_io's generated ones (three quarters at home); the home ones have no
recorded cost, and two in five of them a start and an end (an evening plug-in at 7 kW), so that the
recompute prices some by their times and the rest from their date. They are on Intelligent Octopus
Go (23:30–05:30 at 7p, else 28p), assigned to the owner.

Each is printed beside a baseline of the same run ("× base"): for the recompute, the same sessions'
same fields read in the same order and priced at one flat rate (no tariff, no bands, no profile);
for the fetch, the same pages read and parsed and their rows put in by one bulk_create, unchecked.
The preview of the first fifth of the sessions (by date) is run too: its peak memory against the
whole preview's says whether memory stays flat.

Targets: the preview of 51,000 sessions ≤ 30 s with at most 150 MB peak (the whole process, Django
included), flat (the whole no more than a quarter above the fifth); a year of prices fetched and
stored ≤ 60 s, and the second fetch storing none. The test suite runs the --smoke size
(tests/bench/test_smoke.py), whose figures say nothing.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_io import generate_csv
from served import REPO, peak_mb, site_run

PREVIEW_SECONDS, PREVIEW_MB, FETCH_SECONDS = 30, 150, 60
SIZES = {"full": (51_000, 17_520), "smoke": (600, 672)}


def child_build(csv_path: str, rows: str) -> dict:
    """Migrate; the owner, their car and sessions, their tariff and its assignment."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from cars_app.models import Car
    from plugtrack_site.accounts import owner_account_ensure
    from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
    from sessions_app.models import ChargingSession
    from tariffs.models import Assignment, Band, Tariff, TariffVersion

    generate_csv(Path(csv_path), int(rows))
    user, _ = owner_account_ensure(username="bench", password="bench-password-123")
    car = Car.objects.create(user=user, name="Niro", make="Kia", model="Niro EV", battery_kwh=64.8)
    report = charging_sessions_import(user=user, car=car, source=Path(csv_path),
                                      options=ImportOptions(allow_partial=True, error_file=False))  # fmt: skip
    home = ChargingSession.objects.filter(car=car, location_label="Home driveway")
    home.update(cost_per_kwh=None, total_cost_gbp=None)
    london, timed = ZoneInfo("Europe/London"), []
    for index, session in enumerate(home.order_by("id").only("id", "date", "charge_delivered_kwh")):
        if index % 5 < 2:
            start = dt.datetime.combine(session.date, dt.time(21 + index % 3, 30 * (index % 2)), tzinfo=london)
            session.started_at = start
            session.ended_at = start + dt.timedelta(hours=float(session.charge_delivered_kwh) / 7)
            timed.append(session)
    ChargingSession.objects.bulk_update(timed, ["started_at", "ended_at"], batch_size=2000)
    go = Tariff.objects.create(user=user, name="Intelligent Octopus Go")
    version = TariffVersion.objects.create(tariff=go, valid_from=dt.date(1980, 1, 1), default_p_per_kwh=Decimal(28))
    Band.objects.create(version=version, start=dt.time(23, 30), end=dt.time(5, 30), p_per_kwh=Decimal(7))
    Assignment.objects.create(user=user, tariff=go, valid_from=dt.date(1980, 1, 1))
    # A fifth of the sessions, by date: the preview of them against that of all says whether memory is flat.
    dates = ChargingSession.objects.filter(user=user).order_by("date").values_list("date", flat=True)
    fifth = dates[report.inserted // 5]
    return {"user_id": user.pk, "sessions": report.inserted, "timed": len(timed), "home": home.count(),
            "fifth_to": fifth.isoformat()}  # fmt: skip


def child_baseline(user_id: str) -> dict:
    """The floor under a preview: the same sessions' same fields read in the same order, each priced at
    one flat 28p in Decimal and rounded to the penny: no tariff, no bands, no profile."""
    from decimal import ROUND_HALF_UP, Decimal

    from sessions_app.models import ChargingSession
    from tariffs.costs import _FIELDS

    started, total, count = time.perf_counter(), Decimal(0), 0
    rows = ChargingSession.objects.filter(user_id=int(user_id)).order_by("date", "id").values(*_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        total += (row["charge_delivered_kwh"] * 28 / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        count += 1
    return {"seconds": time.perf_counter() - started, "mb": peak_mb(), "sessions": count}


def child_recompute(user_id: str, apply: str, date_to: str = "") -> dict:
    from django.contrib.auth.models import User

    from tariffs.costs import Selection
    from tariffs.models import CostRecompute
    from tariffs.services import costs_recompute, costs_recompute_undo

    user = User.objects.get(pk=int(user_id))
    started = time.perf_counter()
    selection = Selection(user=user, date_to=dt.date.fromisoformat(date_to) if date_to else None)
    report = costs_recompute(selection=selection, apply=apply == "apply")
    seconds = time.perf_counter() - started
    figures = {"seconds": seconds, "mb": peak_mb(), "sessions": report.sessions, "changed": report.changed,
               "by_source": report.by_source, "after": str(report.total_after_gbp)}  # fmt: skip
    if apply == "apply":
        started = time.perf_counter()
        costs_recompute_undo(user=user, recompute=CostRecompute.objects.get(pk=report.recompute_id))
        figures["undo_seconds"] = time.perf_counter() - started
    return figures


def child_fetch(user_id: str, prices: str) -> dict:
    sys.path.insert(0, str(REPO))
    import urllib.request
    from decimal import Decimal

    from django.conf import settings

    from tariffs.models import HalfHourPrice, Tariff
    from tariffs.octopus import tariff_prices_fetch
    from tests.tariffs.octopus_server import OctopusServer, agile_prices

    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    count = int(prices)
    tariff = Tariff.objects.create(user_id=int(user_id), name="Agile", time_zone="UTC")
    figures = {}
    with OctopusServer(agile_prices(start, count)) as server:  # (the floor below asks for the same pages)
        settings.PLUGTRACK_OCTOPUS_API_URL = f"{server.url}/v1"
        last_day = (start + dt.timedelta(minutes=30 * (count - 1))).date()
        for run in ("first", "second"):
            started = time.perf_counter()
            report = tariff_prices_fetch(tariff=tariff, product="AGILE-24-10-01", region="C",
                                         date_from=start.date(), date_to=last_day)  # fmt: skip
            figures[run] = {"seconds": time.perf_counter() - started, "pages": report.pages,
                            "received": report.received, "stored": report.stored}  # fmt: skip
        figures["first_url"] = server.url + server.requests[0]
        figures["stored_prices"] = HalfHourPrice.objects.filter(tariff=tariff).count()
        figures["mb"] = peak_mb()
        # The floor: the same pages read and parsed, their rows inserted in one bulk_create, unchecked.
        raw = Tariff.objects.create(user_id=int(user_id), name="Raw", time_zone="UTC")
        started = time.perf_counter()
        url, rows = figures["first_url"], []
        while url:
            with urllib.request.urlopen(url) as response:  # noqa: S310 (the local server)
                page = json.loads(response.read())
            rows += [HalfHourPrice(tariff=raw, start=dt.datetime.fromisoformat(result["valid_from"]),
                                   end=dt.datetime.fromisoformat(result["valid_to"]),
                                   p_per_kwh=Decimal(str(result["value_inc_vat"])))
                     for result in page["results"]]  # fmt: skip
            url = page["next"]
        HalfHourPrice.objects.bulk_create(rows, batch_size=2000)
        figures["baseline"] = {"seconds": time.perf_counter() - started, "stored": len(rows)}
    return figures


STEPS = {"build": child_build, "baseline": child_baseline, "recompute": child_recompute, "fetch": child_fetch}


def child(step: str, environment: dict, *args: str) -> dict:
    ran = subprocess.run([sys.executable, __file__, "--child", step, *args], env=environment, capture_output=True,
                         text=True)  # fmt: skip
    if ran.returncode:
        sys.exit(f"{step} failed:\n{ran.stderr[-3000:]}")
    return json.loads(ran.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=SIZES["full"][0], help="The owner's sessions (default 51,000).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument("--smoke", action="store_true", help="The same steps at a tiny size, in seconds.")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        import django

        django.setup()
        step, *args = options.child
        print(json.dumps(STEPS[step](*args)))
        return
    rows, prices = SIZES["smoke"] if options.smoke else (options.rows, SIZES["full"][1])
    with site_run("plugtrack-bench-tariffs-") as site:
        built = child("build", site.environment, str(site.workdir / "sessions.csv"), str(rows))
        user = str(built["user_id"])
        baseline = child("baseline", site.environment, user)
        fifth = child("recompute", site.environment, user, "preview", built["fifth_to"])
        preview = child("recompute", site.environment, user, "preview")
        preview |= {"baseline": baseline, "fifth": fifth}
        applied = child("recompute", site.environment, user, "apply")
        fetched = child("fetch", site.environment, user, str(prices))
    ok = report(built, preview, applied, fetched, site.database_url, smoke=options.smoke)
    if options.json:
        options.json.write_text(json.dumps({"built": built, "preview": preview, "apply": applied,
                                            "fetch": fetched}, indent=2))  # fmt: skip
    if not ok:
        sys.exit(1)


def report(built: dict, preview: dict, applied: dict, fetched: dict, url: str, *, smoke: bool) -> bool:
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    machine = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    print(
        f"Tariffs on {engine}, {machine}: {built['sessions']:,} sessions ({built['home']:,} at home without a "
        f"recorded cost, {built['timed']:,} of them timed)"
    )
    sources = preview["by_source"]
    print(
        f"  worked out: {sources['times']:,} from times, {sources['date']:,} from the date, "
        f"{sources['recorded']:,} recorded (left alone), {sources['none']:,} none; total after £{preview['after']}"
    )
    print(f"{'step':<52}{'seconds':>9}{'× base':>8}{'peak MB':>9}  target")
    first, second = fetched["first"], fetched["second"]
    fetch_ok = second["stored"] == 0 and fetched["stored_prices"] == first["received"]
    baseline, fifth, fetch_baseline = preview["baseline"], preview["fifth"], fetched["baseline"]
    flat = preview["mb"] <= fifth["mb"] * 1.25  # five times the sessions, not five times the memory
    rows = [
        (f"baseline: read {baseline['sessions']:,} sessions, flat 28p", baseline["seconds"], baseline["seconds"],
         baseline["mb"], True, ""),
        (f"recompute preview, a fifth ({fifth['sessions']:,} sessions)", fifth["seconds"], 0, fifth["mb"], True, ""),
        (f"recompute preview ({preview['sessions']:,} sessions)", preview["seconds"], baseline["seconds"],
         preview["mb"], preview["seconds"] <= PREVIEW_SECONDS and preview["mb"] <= PREVIEW_MB and flat,
         f"≤{PREVIEW_SECONDS} s, ≤{PREVIEW_MB} MB, flat"),
        (f"recompute apply ({applied['changed']:,} changed)", applied["seconds"], baseline["seconds"], applied["mb"],
         True, ""),
        ("undo of that apply", applied["undo_seconds"], baseline["seconds"], None, True, ""),
        (f"baseline: {fetch_baseline['stored']:,} prices read, bulk_create", fetch_baseline["seconds"],
         fetch_baseline["seconds"], None, True, ""),
        (f"prices fetched ({first['received']:,} in {first['pages']} pages)", first["seconds"],
         fetch_baseline["seconds"], fetched["mb"], first["seconds"] <= FETCH_SECONDS, f"≤{FETCH_SECONDS} s"),
        (f"fetched again ({second['stored']:,} stored; {fetched['stored_prices']:,} kept)", second["seconds"],
         fetch_baseline["seconds"], None, fetch_ok, "none stored"),
    ]  # fmt: skip
    passed = True
    for name, seconds, base, mb, ok, target in rows:
        passed = passed and ok
        verdict = ("ok" if ok else "MISS") if target else ""
        ratio = f"{seconds / base:.2f}" if base > 0 else ""
        print(f"{name:<52}{seconds:>9.2f}{ratio:>8}{'' if mb is None else f'{mb:.0f}':>9}  {target} {verdict}".rstrip())
    print(
        f"  memory: {fifth['mb']:.0f} MB for {fifth['sessions']:,} sessions, {preview['mb']:.0f} MB for "
        f"{preview['sessions']:,} ({'flat' if flat else 'NOT FLAT'}); × base: seconds over the baseline above it"
    )
    if smoke:
        print("Smoke run: every step ran; at this size the figures and targets say nothing."
              if fetch_ok else "SMOKE RUN FAILED: the second fetch stored prices again.")  # fmt: skip
        return fetch_ok
    return passed


if __name__ == "__main__":
    main()

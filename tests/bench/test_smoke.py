"""Each benchmark in bench/ runs its --smoke size, as a person would start it, and prints its table:
a benchmark that no longer runs fails here, not on the day someone wants its figures. Each makes its
own database (a temporary SQLite file, or a PostgreSQL database beside DATABASE_URL's, dropped after),
so they run on whichever database the suite runs on. The figures at that size say nothing and are not
looked at."""

import os
import subprocess
import sys

import pytest

from ..processes import REPO

pytestmark = pytest.mark.slow

# What each benchmark's table prints, whatever the figures: its heading and a row or line of it.
TABLES = {
    "bench_io.py": ["× raw", "raw csv + bulk_create (baseline)", "replace restore (+ automatic backup)",
                    # --smoke goes through --file's path: the row validation refuses is left out
                    "sessions.csv: 1 row(s) refused by validation are left out of the run."],
    "bench_admin.py": ["worker MB", "admin import (upload to done)", "replace restore"],
    "bench_hostile.py": ["outcome", "ZIP with 1,000 cars (the limit), dry run", "Stored before and after: unchanged"],
    "bench_pages.py": ["queries s/l/f", "car analytics"],
    "bench_served.py": ["pages served:", "import 2: imported 100"],
    "bench_api.py": ["p95 ms", "GET /analytics/summary", "full CSV of 300 sessions", "errors: 0"],
    "bench_statements.py": ["figure", "month of sessions as PDF (finalised)", "a year of twelve statements"],
    "bench_tariffs.py": ["peak MB", "recompute preview (600 sessions)", "fetched again (0 stored; 672 kept)"],
}  # fmt: skip


def environment() -> dict[str, str]:
    """A person's shell, not this test process's: the test settings put their secrets and the
    immediate task backend into os.environ, which the benchmarks' servers must not inherit."""
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "DATABASE_URL")
    return {name: os.environ[name] for name in kept if name in os.environ}


@pytest.mark.parametrize("script", list(TABLES))
def test_the_benchmark_runs_its_smoke_size_and_prints_its_table(script):
    ran = subprocess.run(
        [sys.executable, f"bench/{script}", "--smoke"],
        cwd=REPO, env=environment(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    said = f"{ran.stdout[-4000:]}\n{ran.stderr[-4000:]}"
    assert ran.returncode == 0, said
    for line in [*TABLES[script], "Smoke run: "]:
        assert line in ran.stdout, said

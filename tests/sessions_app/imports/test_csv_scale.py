"""What keeps big imports fast and quiet: a fixed number of queries per chunk, progress per chunk."""

import io
import sys

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from plugtrack_site.command_args import progress_bar
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import, csv_rows_estimate
from sessions_app.imports.importer import Limits

from ..csv_helpers import session_row, write_csv


def rows(count: int) -> list[dict]:
    return [
        session_row(date=f"2025-{1 + i // 28 % 12:02}-{1 + i % 28:02}", odometer=str(1000 + i)) for i in range(count)
    ]


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_queries_of_a_chunk_do_not_grow_with_its_rows(owner, make_car, tmp_path, dry_run):
    car = make_car(owner)
    counts = []
    for size in (5, 40):  # both within one chunk and one INSERT batch on every database
        car.sessions.all().delete()
        path = write_csv(tmp_path, rows(size), name=f"n{size}.csv")
        with CaptureQueriesContext(connection) as queries:
            report = charging_sessions_import(
                user=owner, car=car, source=path,
                options=ImportOptions(dry_run=dry_run),
            )
        assert report.ok and report.rows_read == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # transaction, account lock, car check, the owner's price ceiling, the car's sessions for the checks, stored
    # keys, insert, baseline and flags, month totals, the import's record (insert, counts)
    assert counts[0] <= 16  # (the flags read the owners of the cars and their price ceilings)


def test_progress_is_reported_after_each_chunk(owner, make_car, tmp_path):
    seen = []
    charging_sessions_import(
        user=owner, car=make_car(owner), source=write_csv(tmp_path, rows(25)),
        options=ImportOptions(progress=seen.append, limits=Limits(chunk_rows=10)),
    )
    assert seen == [10, 20, 25]


def test_the_progress_bar_shows_only_for_a_big_run_in_a_terminal(monkeypatch):
    stderr = io.StringIO()
    stderr.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", stderr)
    with progress_bar(total=100, silenced=False) as small:
        assert small is None
    with progress_bar(total=50_000, silenced=True) as json_run:
        assert json_run is None
    with progress_bar(total=50_000, silenced=False) as update:
        update(20_000)
    assert "/50.0k" in stderr.getvalue() and "rows/s" in stderr.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    with progress_bar(total=50_000, silenced=False) as piped:
        assert piped is None


def test_the_row_estimate_counts_lines(tmp_path):
    assert csv_rows_estimate(write_csv(tmp_path, rows(7))) == 7
    assert csv_rows_estimate(tmp_path / "missing.csv") == 0


@pytest.mark.parametrize("dry_run", [False, True])
def test_duplicates_are_found_across_chunks_and_in_the_database(
    owner, make_car, make_session, tmp_path, dry_run
):
    car = make_car(owner)
    make_session(car, "2025-01-05", 1004, "30.5")  # the 5th row of the file is stored already
    file_rows = rows(8)
    file_rows.append(dict(file_rows[1], charge_delivered_kwh="30.500"))  # row 2 again, in a later chunk
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, file_rows),
        options=ImportOptions(dry_run=dry_run, limits=Limits(chunk_rows=3)),
    )
    assert (report.inserted, report.skipped_duplicates) == (7, 2)
    assert car.sessions.count() == (1 if dry_run else 8)


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_chunked_duplicate_rule_is_exact_decimal_equality(owner, make_car, tmp_path, dry_run):
    same = session_row(date="2025-01-01", odometer="1000", charge_delivered_kwh="0")
    file_rows = [same, session_row(date="2025-01-02", odometer="1001"), dict(same, charge_delivered_kwh="-0")]
    report = charging_sessions_import(
        user=owner, car=make_car(owner), source=write_csv(tmp_path, file_rows),
        options=ImportOptions(dry_run=dry_run, limits=Limits(chunk_rows=2)),
    )
    assert (report.inserted, report.skipped_duplicates) == (2, 1)


@pytest.mark.parametrize("failure", ["invalid row", "database error", "interrupted"])
def test_the_file_keys_are_let_go_whatever_ends_the_import(
    owner, make_car, tmp_path, monkeypatch, failure, opened_key_stores
):
    """Each import keeps the file's keys in a temporary SQLite file; none may stay open."""
    file_rows = rows(5)
    if failure == "invalid row":
        file_rows[4]["soc_from"] = "120"
    elif failure == "database error":
        monkeypatch.setattr(
            "sessions_app.imports.importer.sessions_sequence_recompute", raising(DatabaseError("disk I/O error"))
        )
    else:
        monkeypatch.setattr("sessions_app.imports.importer.sessions_sequence_recompute", raising(KeyboardInterrupt()))
    car = make_car(owner)
    source, options = write_csv(tmp_path, file_rows), ImportOptions(limits=Limits(chunk_rows=2))
    if failure == "invalid row":
        assert not charging_sessions_import(user=owner, car=car, source=source, options=options).ok
    else:
        with pytest.raises(CsvFileError if failure == "database error" else KeyboardInterrupt):
            charging_sessions_import(user=owner, car=car, source=source, options=options)
    assert opened_key_stores and car.sessions.count() == 0
    assert all(store.closed for store in opened_key_stores)


def raising(error: BaseException):
    def fail(*args, **kwargs):
        raise error

    return fail

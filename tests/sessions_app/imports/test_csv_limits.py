"""Every limit of a sessions CSV, each with a file that breaks it: refused (or the row reported)
within seconds, with a short message that says what is wrong and where, and nothing written."""

import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_app.imports.csv_format import HEADER, MAX_RECORD_CHARS, CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.importer import MAX_ERRORS, MAX_ROWS, Limits
from sessions_app.models import ChargingSession

from ..csv_helpers import session_row, write_csv

QUICK_SECONDS = 5  # what a linear check takes here is a fraction of this; a quadratic one, minutes


@pytest.fixture
def car(owner, make_car):
    return make_car(owner)


def refused_quickly(owner, car, path, message: str) -> str:
    started = time.monotonic()
    with pytest.raises(CsvFileError, match=message) as raised:
        charging_sessions_import(user=owner, car=car, source=path)
    assert time.monotonic() - started < QUICK_SECONDS
    assert not ChargingSession.objects.exists()
    return str(raised.value)


def test_a_header_of_100000_columns_is_refused_at_once(owner, car, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n2025-01-01\n")  # 689 KB
    message = refused_quickly(owner, car, path, "wide.csv, line 1: the row is longer than 65,536 characters")
    assert len(message) < 400


def test_many_unknown_columns_are_named_a_few_at_a_time(owner, car, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text(",".join(HEADER) + "," + ",".join(f"x{i}" for i in range(9_000)) + "\n")
    message = refused_quickly(owner, car, path, r"unknown column\(s\): 'x0', 'x1', 'x2', 'x3', 'x4' and 8,995 more")
    assert len(message) < 600


def test_a_file_with_no_line_break_is_refused_after_reading_one_row(owner, car, tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text(",".join(HEADER) + "\n" + "2025-01-01,1000,AC," * 2_000_000)  # 38 MB in one line
    message = refused_quickly(owner, car, path, "one-line.csv, line 2: the row is longer than")
    assert "Each row must end with a line break" in message and len(message) < 400


def test_an_enormous_quoted_cell_is_refused_before_it_is_read_whole(owner, car, tmp_path):
    path = tmp_path / "cell.csv"
    path.write_text(",".join(HEADER) + '\n2025-01-01,1000,AC,,"' + "many\nlines\n" * 1_000_000 + '"\n')
    refused_quickly(owner, car, path, "cell.csv, line 2: the row is longer than")


def test_a_row_just_within_the_limit_is_read_and_judged_by_its_cells(owner, car, tmp_path):
    cells = session_row(notes="n" * 9_000)
    path = write_csv(tmp_path, [cells])
    path.write_text(path.read_text().rstrip("\n") + "," * (MAX_RECORD_CHARS - 12_000) + "\n")
    report = charging_sessions_import(user=owner, car=car, source=path)
    assert [(issue.row, issue.message[:40]) for issue in report.errors] == [
        (2, "has 53550 cells but the header has 14; a")
    ]


def test_a_huge_bad_value_is_quoted_as_a_short_excerpt(owner, car, tmp_path):
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, [session_row(odometer="9" * 5_000 + "x")])
    )
    [issue] = report.errors
    assert issue.field == "odometer" and issue.message.startswith('"9999')
    assert len(issue.message) < 100 and len(issue.value) <= 100


def test_the_command_says_it_in_one_line_and_exits_2(owner, car, tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text("x" * (MAX_RECORD_CHARS * 4))
    with pytest.raises(CommandError, match="line 1: the row is longer than") as raised:
        call_command("sessions_import", "--from", str(path))
    assert raised.value.returncode == 2


def test_a_file_of_bad_rows_stops_at_the_error_limit_with_its_errors_listed(owner, car, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_text(",".join(HEADER) + "\n" + "x\n" * 50_000)
    started = time.monotonic()
    report = charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(allow_partial=True))
    assert time.monotonic() - started < QUICK_SECONDS
    assert (report.error_count, report.stopped_at, report.inserted) == (MAX_ERRORS, MAX_ERRORS + 1, 0)
    assert report.notes == [
        f"Stopped reading at line {MAX_ERRORS + 1}: 10,000 rows have errors, so the rest of the file was not checked "
        "and nothing will be written. Is this the right file?"
    ]
    assert len((tmp_path / "junk.err.csv").read_text().splitlines()) == MAX_ERRORS + 1  # with its header
    assert not ChargingSession.objects.exists()


def test_a_chunk_of_long_rows_is_cut_short_by_its_characters(owner, car, tmp_path):
    rows = [session_row(odometer=str(1000 + i), date=f"2025-01-{1 + i:02}", notes="n" * 1_000) for i in range(6)]
    progress = []
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, rows),
        options=ImportOptions(progress=progress.append, limits=Limits(chunk_chars=3_000)),
    )
    assert report.inserted == 6 and progress == [3, 6]  # three rows of about 1,050 characters a chunk


def test_a_whole_number_too_long_for_python_is_a_row_error(owner, car, tmp_path):
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, [session_row(odometer="9" * 5_000)])
    )
    assert [(issue.field, issue.message) for issue in report.errors] == [
        ("odometer", f'"{"9" * 39}…" is not a whole number.')
    ]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "import"])
def test_a_file_over_the_row_limit_stops_at_the_row_past_it_and_writes_nothing(
    owner, car, tmp_path, dry_run
):
    assert MAX_ROWS == 500_000  # the documented figure; here the import is given 5 instead
    rows = [session_row(odometer=str(1000 + i), date=f"2025-01-{1 + i:02}") for i in range(8)]
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, rows),
        options=ImportOptions(dry_run=dry_run, allow_partial=True, limits=Limits(max_rows=5)),
    )
    assert (report.rows_read, report.stopped_at, report.error_count, report.inserted) == (5, 7, 1, 0)
    assert (report.errors[0].row, report.errors[0].message) == (
        7, "more than 5 rows: split the file and import each part."
    )  # fmt: skip
    assert report.notes == [
        "Stopped reading at line 7: the file has more than 5 rows, the most one import reads, so nothing will be "
        "written. Split it into files of at most 5 rows each and import them one by one."
    ]
    assert not ChargingSession.objects.exists()

    at_the_limit = write_csv(tmp_path, rows[:5], name="five.csv")
    options = ImportOptions(dry_run=dry_run, limits=Limits(max_rows=5))
    assert charging_sessions_import(user=owner, car=car, source=at_the_limit, options=options).inserted == 5

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from sessions_app.imports.csv_format import HEADER, CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.importer import Limits
from sessions_app.management.commands.sessions_import import report_text
from sessions_app.models import ChargingSession

from ..csv_helpers import read_csv, session_row, write_csv


@pytest.fixture
def car(owner, make_car):
    return make_car(owner, name="Niro")


def do_import(owner, car, path, **options):
    return charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(**options))


def test_a_valid_file_is_imported_with_every_field(owner, car, tmp_path):
    path = write_csv(
        tmp_path,
        [
            session_row(),
            session_row(
                date="2025-03-04",
                odometer="1120",
                charge_type="dc",
                charge_power_kw="50.5",
                location_label="Gridserve Braintree",
                charge_network="GRIDSERVE",
                charge_delivered_kwh="25.125",
                duration_mins="31",
                cost_per_kwh="0.79",
                total_cost_gbp="19.85",
                soc_from="10",
                soc_to="90",
                ambient_temp_c="-2.5",
                notes="a note, with a comma",
            ),
        ],
    )
    report = do_import(owner, car, path)

    assert report.ok and (report.rows_read, report.inserted, report.skipped_duplicates) == (2, 2, 0)
    stored = ChargingSession.objects.get(odometer=1120)
    assert (stored.user, stored.car, stored.date) == (owner, car, dt.date(2025, 3, 4))
    assert stored.charge_type == "DC"  # case-insensitive
    assert stored.charge_power_kw == Decimal("50.5")
    assert (stored.location_label, stored.charge_network) == ("Gridserve Braintree", "GRIDSERVE")
    assert stored.charge_delivered_kwh == Decimal("25.125")
    assert (stored.duration_mins, stored.cost_per_kwh, stored.total_cost_gbp) == (31, Decimal("0.79"), Decimal("19.85"))
    assert (stored.soc_from, stored.soc_to, stored.ambient_temp_c) == (10, 90, Decimal("-2.5"))
    assert stored.notes == "a note, with a comma"
    assert list(car.sessions.filter(is_baseline=True).values_list("odometer", flat=True)) == [1000]


def test_total_cost_is_computed_when_blank(owner, car, tmp_path):
    do_import(owner, car, write_csv(tmp_path, [session_row(cost_per_kwh="0.245", charge_delivered_kwh="20")]))
    assert ChargingSession.objects.get().total_cost_gbp == Decimal("4.90")


def test_a_total_that_disagrees_with_the_price_is_a_warning_and_kept(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(cost_per_kwh="0.245", charge_delivered_kwh="20", total_cost_gbp="5.50")])
    report = do_import(owner, car, path)
    assert report.ok and report.inserted == 1
    assert [(w.row, w.field, w.value) for w in report.warnings] == [(2, "total_cost_gbp", "5.50")]
    assert "differs from price × energy, £4.90," in report.warnings[0].message
    assert ChargingSession.objects.get().total_cost_gbp == Decimal("5.50")


def test_importing_the_same_file_twice_inserts_nothing_the_second_time(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(odometer=str(1000 + i), date=f"2025-03-{i + 1:02}") for i in range(5)])
    first, second = do_import(owner, car, path), do_import(owner, car, path)
    assert (first.inserted, first.skipped_duplicates) == (5, 0)
    assert (second.inserted, second.skipped_duplicates, second.ok) == (0, 5, True)
    assert ChargingSession.objects.count() == 5


def test_a_duplicate_earlier_in_the_same_file_is_skipped_even_written_differently(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(charge_delivered_kwh="30.5"), session_row(charge_delivered_kwh=" 30.500 ")])
    report = do_import(owner, car, path)
    assert (report.inserted, report.skipped_duplicates) == (1, 1)


def test_a_duplicate_is_never_an_update(owner, car, tmp_path, make_session):
    make_session(car, "2025-03-01", 1000, "30.5", notes="mine")
    report = do_import(owner, car, write_csv(tmp_path, [session_row(notes="from the file")]))
    assert report.skipped_duplicates == 1
    assert ChargingSession.objects.get().notes == "mine"


def test_the_same_key_in_another_car_is_not_a_duplicate(owner, car, make_car, make_session, tmp_path):
    make_session(make_car(owner, name="Other"), "2025-03-01", 1000, "30.5")
    assert do_import(owner, car, write_csv(tmp_path, [session_row()])).inserted == 1


def test_dry_run_reports_what_a_real_run_would_do_and_writes_nothing(owner, car, tmp_path, make_session):
    existing = make_session(car, "2025-03-01", 1000, "30.5")
    path = write_csv(
        tmp_path, [session_row(), session_row(date="2025-02-01", odometer="900"), session_row(odometer="x")]
    )
    before = list(ChargingSession.objects.values_list("id", "is_baseline"))

    dry = do_import(owner, car, path, dry_run=True)
    dry_partial = do_import(owner, car, path, dry_run=True, allow_partial=True)

    assert list(ChargingSession.objects.values_list("id", "is_baseline")) == before
    # all or nothing by default: with an invalid row, a real run would write nothing
    assert (dry.inserted, dry.skipped_duplicates, dry.error_count, dry.dry_run) == (0, 1, 1, True)
    assert "Nothing would be written: 1 row(s) have errors." in dry.notes[0]
    assert do_import(owner, car, path).inserted == 0
    assert (dry_partial.inserted, dry_partial.skipped_duplicates, dry_partial.error_count) == (1, 1, 1)
    real = do_import(owner, car, path, allow_partial=True)
    assert (real.inserted, real.skipped_duplicates, real.error_count) == (1, 1, 1)
    existing.refresh_from_db()
    assert not existing.is_baseline  # the imported earlier session took over


def test_any_invalid_row_means_nothing_is_written(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="1100", soc_to="120")])
    report = do_import(owner, car, path)
    assert not report.ok and report.inserted == 0
    assert "Nothing was written: 1 row(s) have errors." in report.notes[0]
    assert not ChargingSession.objects.exists()


def test_allow_partial_writes_the_valid_rows_and_reports_the_rest(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="1100", soc_to="120")])
    report = do_import(owner, car, path, allow_partial=True)
    assert not report.ok and report.inserted == 1 and report.error_count == 1
    assert list(ChargingSession.objects.values_list("odometer", flat=True)) == [1000]


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"date": ""}, "date", "A value is required."),
        ({"date": "01/03/2025"}, "date", '"01/03/2025" is not a date in the form YYYY-MM-DD'),
        ({"date": "2025-02-30"}, "date", '"2025-02-30" is not a date in the form YYYY-MM-DD'),
        ({"odometer": ""}, "odometer", "A value is required."),
        ({"odometer": "12,345"}, "odometer", '"12,345" is not a whole number.'),
        ({"odometer": "1000.5"}, "odometer", '"1000.5" is not a whole number.'),
        ({"odometer": "-5"}, "odometer", "greater than or equal to 0"),
        ({"charge_type": ""}, "charge_type", "A value is required."),
        ({"charge_type": "ACDC"}, "charge_type", '"ACDC" is not a charge type: use AC or DC.'),
        ({"charge_delivered_kwh": ""}, "charge_delivered_kwh", "A value is required."),
        ({"charge_delivered_kwh": "30,5"}, "charge_delivered_kwh", '"30,5" is not a number. Use digits with a dot'),
        ({"charge_delivered_kwh": "-1"}, "charge_delivered_kwh", "Must be 0 or more."),
        ({"charge_delivered_kwh": "NaN"}, "charge_delivered_kwh", '"NaN" is not a number.'),
        ({"charge_delivered_kwh": "1e3"}, "charge_delivered_kwh", '"1e3" is not a number.'),
        ({"charge_delivered_kwh": "1.2345"}, "charge_delivered_kwh", "no more than 3 decimal places"),
        ({"charge_power_kw": "fast"}, "charge_power_kw", '"fast" is not a number.'),
        ({"cost_per_kwh": "-0.1"}, "cost_per_kwh", "Must be 0 or more."),
        ({"total_cost_gbp": "£5"}, "total_cost_gbp", '"£5" is not a number.'),
        ({"duration_mins": "1:30"}, "duration_mins", '"1:30" is not a whole number.'),
        ({"soc_from": "-1"}, "soc_from", "State of charge must be between 0 and 100 %."),
        ({"soc_to": "101"}, "soc_to", "State of charge must be between 0 and 100 %."),
        ({"soc_from": "80", "soc_to": "20"}, "soc_to", "SoC to (20 %) cannot be below SoC from (80 %)."),
        ({"ambient_temp_c": "75"}, "ambient_temp_c", "Temperature must be between -50 and 60 °C."),
        ({"ambient_temp_c": "-51"}, "ambient_temp_c", "Temperature must be between -50 and 60 °C."),
        ({"location_label": "x" * 121}, "location_label", "at most 120 characters (it has 121)"),
        ({"charge_network": "x" * 81}, "charge_network", "at most 80 characters (it has 81)"),
    ],
)
def test_each_rule_names_the_row_field_and_problem(owner, car, tmp_path, cells, field, message):
    path = write_csv(tmp_path, [session_row(odometer="900", date="2025-01-01"), session_row(**cells)])
    report = do_import(owner, car, path)
    assert not report.ok
    assert [(e.row, e.field) for e in report.errors] == [(3, field)]
    assert message in report.errors[0].message
    assert not ChargingSession.objects.exists()


def test_row_numbers_are_file_lines_even_after_multi_line_notes_and_blank_lines(owner, car, tmp_path):
    path = tmp_path / "may.csv"
    path.write_text(
        ",".join(HEADER)
        + "\n"
        + '2025-03-01,1000,AC,,Home,,10,,,,,,,"two\nlines"\n'
        + "\n"
        + "2025-03-02,1100,AC,,Home,,bad,,,,,,,\n"
        + "2025-03-03,1200,AC,,Home\n",
        encoding="utf-8",
    )
    report = do_import(owner, car, path)
    assert [(e.row, e.field) for e in report.errors] == [(5, "charge_delivered_kwh"), (6, "")]
    assert "has 5 cells but the header has 14" in report.errors[1].message


def test_bom_crlf_blanks_around_values_and_reordered_columns_are_accepted(owner, car, tmp_path):
    header = (" odometer ", *HEADER[2:], "date")
    path = tmp_path / "excel.csv"
    body = " 1000 ,  ac ,7, Home driveway ,,30,,,,,,,, 2025-03-01 "
    path.write_bytes("\ufeff".encode() + (",".join(header) + "\r\n" + body + "\r\n").encode())

    report = do_import(owner, car, path)

    assert report.ok and report.inserted == 1, report.errors
    stored = ChargingSession.objects.get()
    assert (stored.date, stored.odometer, stored.charge_type) == (dt.date(2025, 3, 1), 1000, "AC")
    assert stored.location_label == "Home driveway"


def test_a_file_of_only_the_header_imports_nothing_and_succeeds(owner, car, tmp_path):
    report = do_import(owner, car, write_csv(tmp_path, []))
    assert report.ok and report.rows_read == 0
    assert "may.csv has the header but no sessions: nothing to import." in report_text(report)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER[:-1], "missing column(s): notes"),
        ((*HEADER, "colour"), "unknown column(s): 'colour'"),
        (("Date", *HEADER[1:]), "missing column(s): date; unknown column(s): 'Date'"),
        ((*HEADER, "notes"), "repeated column(s): notes"),
    ],
)
def test_a_wrong_header_is_refused_before_any_row(owner, car, tmp_path, header, message):
    path = write_csv(tmp_path, [session_row()], header=header)
    with pytest.raises(CsvFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        do_import(owner, car, path)
    assert not ChargingSession.objects.exists()


def test_an_empty_file_is_refused(owner, car, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(CsvFileError, match="empty.csv is empty. Its first line must be the header"):
        do_import(owner, car, path)


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="2000", location_label="Café")], encoding="latin-1")
    with pytest.raises(CsvFileError, match=r"may.csv is not UTF-8 text \(the first bad byte is on line 3\)"):
        do_import(owner, car, path)
    assert not ChargingSession.objects.exists()


def test_a_missing_file_is_refused(owner, car, tmp_path):
    with pytest.raises(CsvFileError, match="No file at"):
        do_import(owner, car, tmp_path / "nope.csv")


def test_another_users_car_is_refused(owner, other_owner, make_car, tmp_path):
    theirs = make_car(other_owner, name="Theirs")
    with pytest.raises(CsvFileError, match="is not one of alice's cars"):
        do_import(owner, theirs, write_csv(tmp_path, [session_row()]))
    assert not ChargingSession.objects.exists()


def test_the_error_file_lists_every_error_beside_the_source(owner, car, tmp_path):
    path = write_csv(
        tmp_path, [session_row(odometer="12,5"), session_row(odometer="1100", charge_type="XC", soc_to="")]
    )
    report = do_import(owner, car, path, dry_run=True)
    assert report.error_file == str(tmp_path / "may.err.csv")
    assert read_csv(tmp_path / "may.err.csv") == [
        {"row": "2", "severity": "error", "field": "odometer", "value": "12,5",
         "message": '"12,5" is not a whole number.'},
        {"row": "3", "severity": "error", "field": "charge_type", "value": "XC",
         "message": '"XC" is not a charge type: use AC or DC.'},
    ]


def test_a_clean_run_removes_a_stale_error_file(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(odometer="x")])
    do_import(owner, car, path)
    assert (tmp_path / "may.err.csv").exists()
    write_csv(tmp_path, [session_row()])
    assert do_import(owner, car, path).error_file is None
    assert not (tmp_path / "may.err.csv").exists()


def test_the_error_file_goes_under_the_data_folder_when_it_cannot_be_written_beside(owner, car, tmp_path, settings):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    path = write_csv(tmp_path, [session_row(odometer="x")])
    (tmp_path / "may.err.csv").mkdir()  # something that cannot be opened for writing, even by root
    report = do_import(owner, car, path)
    fallback = tmp_path / "data" / "import-errors" / "may.err.csv"
    assert report.error_file == str(fallback)
    assert f"is not writable, so the error file went to {fallback}" in report.notes[0]
    assert read_csv(fallback)[0]["field"] == "odometer"


def test_errors_kept_in_the_report_are_capped_but_all_are_counted_and_in_the_file(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(odometer=f"bad{i}") for i in range(150)])
    report = do_import(owner, car, path)
    assert report.error_count == 150 and len(report.errors) == 100
    assert len(read_csv(tmp_path / "may.err.csv")) == 150


def test_formula_like_text_is_stored_as_typed(owner, car, tmp_path):
    do_import(owner, car, write_csv(tmp_path, [session_row(location_label="'=HYPERLINK()", notes="-5 degrees")]))
    stored = ChargingSession.objects.get()
    assert (stored.location_label, stored.notes) == ("=HYPERLINK()", "-5 degrees")


def test_the_report_prints_as_a_table_and_as_json(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="x")])
    report = do_import(owner, car, path)
    text = report_text(report)
    assert re.search(r"rows read +2\n", text) and re.search(r"errors +1\n", text)
    assert 'row 3, odometer: "x" is not a whole number.' in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["ok_rows"] == 1 and data["inserted"] == 0
    assert data["errors"] == [
        {"row": 3, "field": "odometer", "value": "x", "message": '"x" is not a whole number.',
         "kind": "not a whole number"}
    ]


def test_trailing_zeros_do_not_count_against_decimal_places(owner, car, tmp_path):
    report = do_import(
        owner, car, write_csv(tmp_path, [session_row(charge_delivered_kwh="30.5000", cost_per_kwh="0.24500")])
    )
    assert report.ok, report.errors
    assert ChargingSession.objects.get().charge_delivered_kwh == Decimal("30.5")


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"odometer": "١٠٠٠"}, "odometer", "is not a whole number"),  # Arabic-Indic digits
        ({"charge_delivered_kwh": "１０"}, "charge_delivered_kwh", "is not a number"),  # full-width digits
        ({"notes": "a\x00b"}, "notes", "contains a NUL character"),
        ({"cost_per_kwh": "9" * 41}, "cost_per_kwh", "Ensure that there are no more than"),
    ],
)
def test_odd_input_is_refused_with_the_column_named(owner, car, tmp_path, cells, field, message):
    report = do_import(owner, car, write_csv(tmp_path, [session_row(**cells)]))
    assert [(e.row, e.field) for e in report.errors] == [(2, field)]
    assert message in report.errors[0].message


def test_a_computed_total_rounds_half_up_like_money(owner, car, tmp_path):
    do_import(owner, car, write_csv(tmp_path, [session_row(cost_per_kwh="0.125", charge_delivered_kwh="1")]))
    assert ChargingSession.objects.get().total_cost_gbp == Decimal("0.13")


def test_an_invalid_row_does_not_make_a_later_valid_copy_a_duplicate(owner, car, tmp_path):
    path = write_csv(tmp_path, [session_row(soc_from="80", soc_to="20"), session_row(soc_from="20", soc_to="80")])
    report = do_import(owner, car, path, allow_partial=True)
    assert (report.inserted, report.skipped_duplicates, report.error_count) == (1, 0, 1)
    assert ChargingSession.objects.get().soc_to == 80


def test_warnings_are_only_for_rows_that_are_imported(owner, car, tmp_path, make_session):
    make_session(car, "2025-03-01", 1000, "30.5")
    off_by_pounds = {"cost_per_kwh": "0.10", "total_cost_gbp": "9.99"}
    path = write_csv(
        tmp_path,
        [
            session_row(**off_by_pounds),  # a duplicate
            session_row(odometer="1100", soc_to="120", **off_by_pounds),  # invalid
            session_row(odometer="1200", **off_by_pounds),  # imported
        ],
    )
    report = do_import(owner, car, path, allow_partial=True)
    assert [w.row for w in report.warnings] == [4]


def test_blank_lines_before_the_header_are_skipped(owner, car, tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n" + ",".join(HEADER) + "\n2025-03-01,1000,AC,,Home,,30,,,,,,,\n")
    assert do_import(owner, car, path).inserted == 1


def test_a_file_refused_mid_way_leaves_no_partial_error_file(owner, car, tmp_path):
    rows = [session_row(odometer="x")] * 2 + [session_row(odometer="1"), session_row(notes='"unclosed')]
    path = write_csv(tmp_path, rows)
    path.write_text(path.read_text() + "x" * 10 + ',"' + "y" * 200_000 + '"\n')
    with pytest.raises(CsvFileError, match="line 6: the row is longer than 65,536 characters"):
        do_import(owner, car, path, limits=Limits(chunk_rows=2))
    assert not (tmp_path / "may.err.csv").exists()


def test_without_any_writable_place_the_errors_are_still_reported(owner, car, tmp_path, settings):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.PLUGTRACK_DATA_DIR = blocker  # cannot hold a folder
    path = write_csv(tmp_path, [session_row(odometer="x")])
    (tmp_path / "may.err.csv").mkdir()
    report = do_import(owner, car, path)
    assert report.error_count == 1 and report.error_file is None
    assert "No error file could be written" in report.notes[-2]


def test_error_file_values_are_guarded_against_formulas(owner, car, tmp_path):
    do_import(owner, car, write_csv(tmp_path, [session_row(odometer="=1+1")]))
    assert read_csv(tmp_path / "may.err.csv")[0]["value"] == "'=1+1"

"""Owners' own files (issue 13, points 1 and 3's spreadsheet preset): the shape detected and said
back, ambiguous files stopped with the question, PlugTrack's own format unchanged."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.formats.shape import ShapeQuestion

from ...csv_helpers import session_row, write_csv

# As LibreOffice Calc saves "Text CSV" in a German locale: semicolons, decimal commas, day.month.year.
GERMAN = (
    "Datum;Kilometerstand;Typ;Ort;Netzwerk;kWh;Preis/kWh;Notizen\r\n"
    "25.11.2026;12.480;AC;Home;Octopus;30,5;0,075;\r\n"
    '28.11.2026;12.590;DC;Ionity Cobham;IONITY;41,25;0,74;"Regen; kalt"\r\n'
)
# A UK spreadsheet: day-first dates, units and £ in the cells, headings in any order.
UK = (
    "Mileage,Date,Energy (kWh),Cost,Location,Type,Comments\n"
    '"12,480",03/11/2026,30.5 kWh,£2.29,Home driveway,AC,\n'
    '"12,590",25/11/2026,41.25 kWh,£30.53,Tesco Extra,DC,rain\n'
)


def write(tmp_path, text: str, name: str = "mine.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def stored(car) -> list[tuple]:
    return list(car.sessions.order_by("date").values_list("date", "odometer", "charge_delivered_kwh", "notes"))


def test_a_german_libreoffice_file_is_read_with_semicolons_and_decimal_commas(owner, make_car, tmp_path):
    car = make_car(owner)
    path = write(tmp_path, GERMAN.replace("Kilometerstand", "Mileage"))  # (odometer in km is refused, below)
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet"),
    )
    assert report.ok and report.inserted == 2
    assert report.detected == report.detected | {
        "format": "spreadsheet", "encoding": "UTF-8", "delimiter": "semicolon", "decimal_mark": "comma",
        "date_order": "day/month/year",
    }  # fmt: skip
    assert report.detected["columns"]["charge_delivered_kwh"] == "kWh"
    assert stored(car) == [
        (dt.date(2026, 11, 25), 12480, Decimal("30.500"), ""),
        (dt.date(2026, 11, 28), 12590, Decimal("41.250"), "Regen; kalt"),
    ]
    assert car.sessions.get(odometer=12590).cost_per_kwh == Decimal("0.74")


def test_a_uk_day_first_file_with_units_in_cells_is_read_and_said_back(owner, make_car, tmp_path, capsys):
    car = make_car(owner)
    path = write(tmp_path, UK)
    call_command("sessions_import", "--from", str(path), "--format", "auto", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["inserted"] == 2
    assert report["detected"]["date_order"] == "day/month/year"  # 25/11/2026 proves it; 03/11 alone would not
    assert report["detected"]["delimiter"] == "comma" and report["detected"]["ignored_columns"] == []
    session = car.sessions.get(odometer=12590)
    assert (str(session.date), session.total_cost_gbp, session.notes) == ("2026-11-25", Decimal("30.53"), "rain")
    assert str(car.sessions.get(odometer=12480).date) == "2026-11-03"


def test_ambiguous_dates_stop_with_the_question_and_the_answer_imports(owner, make_car, tmp_path):
    car = make_car(owner)
    path = write(tmp_path, UK.replace("25/11/2026", "05/11/2026"))
    with pytest.raises(ShapeQuestion, match=r"could be day/month or month/day \(line 2.*--date-order dmy"):
        charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="spreadsheet"))
    assert not car.sessions.exists()
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(date_order="mdy")),
    )
    assert report.inserted == 2 and str(car.sessions.get(odometer=12480).date) == "2026-03-11"


def test_the_command_asks_the_same_and_exits_2(owner, make_car, tmp_path):
    make_car(owner)
    path = write(tmp_path, UK.replace("25/11/2026", "05/11/2026"))
    with pytest.raises(CommandError, match="Choose the order") as refused:
        call_command("sessions_import", "--from", str(path), "--format", "spreadsheet")
    assert refused.value.returncode == 2


def test_a_windows_1252_file_is_recognised_and_offered_never_taken_silently(owner, make_car, tmp_path):
    car = make_car(owner)
    path = write(tmp_path, UK.replace("rain", "café"), encoding="cp1252")
    with pytest.raises(ShapeQuestion, match="reads as Windows-1252.*--encoding cp1252"):
        charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="spreadsheet"))
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(encoding="cp1252")),
    )
    assert report.inserted == 2 and car.sessions.get(odometer=12590).notes == "café"


def test_headings_not_plugtracks_are_left_out_and_named_and_required_ones_are_asked_for(owner, make_car, tmp_path):
    car = make_car(owner)
    report = charging_sessions_import(
        user=owner, car=car, source=write(tmp_path, UK.replace("Comments", "Weather")),
        options=ImportOptions(file_format="spreadsheet"),
    )
    assert report.detected["ignored_columns"] == ["Weather"]
    with pytest.raises(CsvFileError, match="has no column for the odometer. PlugTrack needs each session's odometer"):
        charging_sessions_import(
            user=owner, car=car, source=write(tmp_path, UK.replace("Mileage", "Reading")),
            options=ImportOptions(file_format="spreadsheet"),
        )  # fmt: skip
    for heading, said in [("Odometer (km)", "Odometer (km)"), ("Kilometerstand", "Kilometerstand (km)")]:
        report = charging_sessions_import(
            user=owner, car=car, source=write(tmp_path, UK.replace("Mileage", heading)),
            options=ImportOptions(file_format="spreadsheet", dry_run=True),
        )  # fmt: skip
        assert report.ok and report.detected["columns"]["odometer"] == said  # read as km, converted, and said so


def test_a_row_missing_a_required_value_is_that_rows_error(owner, make_car, tmp_path):
    car = make_car(owner)
    report = charging_sessions_import(
        user=owner, car=car, source=write(tmp_path, UK.replace('"12,590"', "")),
        options=ImportOptions(file_format="spreadsheet"),
    )
    assert not report.ok and [(issue.row, issue.field) for issue in report.errors] == [(3, "odometer")]
    assert not car.sessions.exists()  # atomic, as for PlugTrack's own files


def test_auto_takes_plugtracks_own_file_as_before(owner, make_car, tmp_path):
    car = make_car(owner)
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, [session_row()]),
        options=ImportOptions(file_format="auto"),
    )
    assert report.inserted == 1 and report.detected == {}  # the default path, unchanged


def test_the_admin_check_says_how_it_read_an_owners_file_then_imports_it(owner_client, owner, make_car):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from ..test_csv_admin import confirm
    from .test_mappings import columns_form_data

    car = make_car(owner)
    upload = SimpleUploadedFile("mine.csv", UK.encode(), content_type="text/csv")
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_import"),
        {"car": car.pk, "import_file": upload, "file_format": "auto"}, follow=True,
    )  # fmt: skip
    # First its columns, as detected, to confirm or change; then the check.
    assert "read as your own spreadsheet, UTF-8, comma-separated, with 7 columns" in response.content.decode()
    response = owner_client.post(response.request["PATH_INFO"], columns_form_data(response), follow=True)
    html = response.content.decode()
    assert "Read as your own spreadsheet: UTF-8, comma-separated, decimal point, dates day/month/year" in html
    assert "odometer (miles) from “Mileage”" in html and not car.sessions.exists()
    confirm(owner_client, response)
    assert sorted(car.sessions.values_list("odometer", flat=True)) == [12480, 12590]


def test_a_row_whose_cells_do_not_match_the_header_is_that_rows_error(owner, make_car, tmp_path):
    car = make_car(owner)
    shifted = UK.replace('"12,590"', "12,590")  # unquoted: the thousands comma splits the cell in two
    report = charging_sessions_import(
        user=owner, car=car, source=write(tmp_path, shifted),
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(date_order="dmy")),
    )  # (the row that proved the order is the broken one)
    assert [(issue.row, issue.message[:32]) for issue in report.errors] == [(3, "has 8 cells but the header has 7")]
    assert not car.sessions.exists()


def test_the_decimal_mark_needs_proof_and_numbers_that_disagree_stop_the_import(owner, make_car, tmp_path):
    car = make_car(owner)
    english = "Date;Mileage;Type;kWh;Price\n2026-11-25;12480;AC;30.5;0.075\n2026-11-26;12590;AC;41.25;0.075\n"
    report = charging_sessions_import(
        user=owner, car=car, source=write(tmp_path, english),
        options=ImportOptions(file_format="spreadsheet"),
    )
    assert report.detected["decimal_mark"] == "point" and car.sessions.get(odometer=12480).charge_delivered_kwh == 30.5
    mixed = english.replace("41.25", "41,25").replace("12480", "12481")
    with pytest.raises(CsvFileError, match="the numbers disagree: line 3 has a decimal comma, line 2 a decimal point"):
        charging_sessions_import(
            user=owner, car=car, source=write(tmp_path, mixed),
            options=ImportOptions(file_format="spreadsheet"),
        )


def test_pence_euros_and_start_end_columns_are_never_guessed(owner, make_car, tmp_path):
    car = make_car(owner)
    text = "Date,Start,End,Mileage,Type,kWh,Price\n2026-11-25T18:02,18:02,21:40,12480,AC,30.5,25p\n"
    report = charging_sessions_import(
        user=owner, car=car, source=write(tmp_path, text),
        options=ImportOptions(file_format="spreadsheet"),
    )
    assert report.detected["ignored_columns"] == ["Start", "End"]  # times, not states of charge
    assert [(issue.row, issue.field) for issue in report.errors] == [(2, "cost_per_kwh")]  # 25p is not £25
    euros = text.replace("25p", "0,25 €").replace(",0,25 €", ',"0,25 €"')
    with pytest.raises(ShapeQuestion, match="line 2 has a cost that is not in pounds.*--currency EUR --rate 0.86"):
        charging_sessions_import(
            user=owner, car=car, source=write(tmp_path, euros),
            options=ImportOptions(file_format="spreadsheet"),
        )
    assert not car.sessions.exists()


def test_an_iso_date_time_blank_first_lines_and_a_bad_encoding_are_handled(owner, make_car, tmp_path):
    car = make_car(owner)
    text = "\n\nDate,Mileage,Type,kWh\n2026-11-25T18:02:10,12480,AC,30.5\n"
    report = charging_sessions_import(
        user=owner, car=car, source=write(tmp_path, text),
        options=ImportOptions(file_format="auto"),
    )
    assert report.inserted == 1 and str(car.sessions.get().date) == "2026-11-25"  # a local time: its date
    (tmp_path / "bad.csv").write_bytes(b"Date,Mileage,Type,kWh\n2026-11-26,12590,AC,30\x81\n")
    with pytest.raises(CsvFileError, match=r"bad.csv is not UTF-8 text \(line 2\), nor Windows-1252"):
        charging_sessions_import(
            user=owner, car=car, source=tmp_path / "bad.csv",
            options=ImportOptions(file_format="spreadsheet"),
        )
    (tmp_path / "long.csv").write_text("Date," * 20_000)
    with pytest.raises(CsvFileError, match="the first line is longer than 65,536 characters"):
        charging_sessions_import(
            user=owner, car=car, source=tmp_path / "long.csv",
            options=ImportOptions(file_format="auto"),
        )

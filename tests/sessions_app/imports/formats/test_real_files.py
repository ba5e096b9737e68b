"""Real owners' files read right (issue 20, points 3, 4, 5, 7): PlugTrack's own export as spreadsheets
in other locales save it, "previous" meaning previous in time, money to the penny, files without an
odometer."""

import csv
import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from jobs.models import Job
from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_export, charging_sessions_import
from sessions_app.imports.formats.mapping import ColumnMapping
from sessions_app.imports.formats.presets import preset_mapping
from sessions_app.imports.formats.shape import ShapeQuestion
from sessions_app.imports.mapping_profiles import mapping_profile_save

IMPORT = "admin:sessions_app_chargingsession_import"


@pytest.fixture
def exported(owner, make_car, make_session):
    """A car with sessions whose dates tell day from month (the 13th onwards), exported as PlugTrack writes it."""
    car = make_car(owner)
    for number, day in enumerate((3, 14, 21, 28)):
        make_session(car, f"2025-05-{day:02}", 12480 + number * 121, f"{30.5 + number}", charge_type="AC",
                     cost_per_kwh=Decimal("0.075"), total_cost_gbp=Decimal(f"{(30.5 + number) * 0.075:.2f}"),
                     location_label="Home, driveway", ambient_temp_c=Decimal("8.5"),
                     notes="first" if number == 0 else "")  # fmt: skip
    stream = StringIO()
    charging_sessions_export(user=owner, car=car, target=stream)
    return car, stream.getvalue()


def resaved(export: str, *, delimiter: str, decimal_comma: bool, date_format: str, header=str.strip) -> str:
    """The export as a spreadsheet saves it again: its own separator, decimal mark and date format."""
    rows = list(csv.reader(io.StringIO(export)))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([header(name) for name in rows[0]])
    numbers = {rows[0].index(name) for name in ("charge_delivered_kwh", "cost_per_kwh", "total_cost_gbp",
                                                "ambient_temp_c")}  # fmt: skip
    for row in rows[1:]:
        row[0] = dt.date.fromisoformat(row[0]).strftime(date_format)
        if decimal_comma:
            row = [cell.replace(".", ",") if index in numbers else cell for index, cell in enumerate(row)]
        writer.writerow(row)
    return "\ufeff" + out.getvalue()


@pytest.mark.parametrize(
    ("locale", "delimiter", "decimal_comma", "date_format"),
    [
        ("German LibreOffice or Excel", ";", True, "%d.%m.%Y"),
        ("French Excel", ";", True, "%d/%m/%Y"),
        ("UK Excel", ",", False, "%d/%m/%Y"),
        ("US Excel", ",", False, "%m/%d/%Y"),
        ("a tab-separated save", "\t", False, "%Y-%m-%d"),
    ],
)
def test_an_export_saved_again_by_a_spreadsheet_reimports_as_duplicates(
    owner, exported, tmp_path, locale, delimiter, decimal_comma, date_format
):
    car, export = exported
    path = tmp_path / "resaved.csv"
    path.write_text(resaved(export, delimiter=delimiter, decimal_comma=decimal_comma, date_format=date_format),
                    encoding="utf-8")  # fmt: skip
    report = charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    assert report.ok and (report.inserted, report.skipped_duplicates) == (0, 4), locale
    assert report.detected["mapping"] == "PlugTrack's own columns"

    car.sessions.all().delete()  # into an empty car: the same sessions again
    report = charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    assert report.inserted == 4 and not report.warnings
    again = StringIO()
    charging_sessions_export(user=owner, car=car, target=again)
    assert again.getvalue() == export


def test_own_columns_in_any_case_and_order_are_recognised(owner, exported, tmp_path):
    car, export = exported
    rows = list(csv.reader(io.StringIO(export)))
    order = list(reversed(range(len(rows[0]))))
    path = tmp_path / "upper.csv"
    path.write_text("\n".join(",".join(f'"{row[i]}"' for i in order) for row in [[n.upper() for n in rows[0]],
                                                                               *rows[1:]]))  # fmt: skip
    report = charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    assert (report.inserted, report.skipped_duplicates) == (0, 4)


def test_dates_that_could_be_either_order_are_asked_about_then_read(owner, make_car, make_session, tmp_path):
    car = make_car(owner)
    make_session(car, "2025-05-03", 12480, "30.5")
    make_session(car, "2025-06-04", 12600, "31.5")
    stream = StringIO()
    charging_sessions_export(user=owner, car=car, target=stream)
    path = tmp_path / "us.csv"
    path.write_text(resaved(stream.getvalue(), delimiter=",", decimal_comma=False, date_format="%m/%d/%Y"))
    assert "05/03/2025" in path.read_text()  # Excel in the US, as the issue found: not YYYY-MM-DD
    with pytest.raises(ShapeQuestion, match="could be day/month or month/day"):
        charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="auto", choices=ImportChoices(date_order="mdy")),
    )  # fmt: skip
    assert (report.inserted, report.skipped_duplicates) == (0, 2)


def test_plugtracks_own_format_chosen_for_a_resaved_file_says_what_to_do(owner, exported, tmp_path):
    car, export = exported
    path = tmp_path / "de.csv"
    path.write_text(resaved(export, delimiter=";", decimal_comma=True, date_format="%d.%m.%Y"), encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("sessions_import", "--from", str(path), stdout=StringIO())
    assert refused.value.returncode == 2
    assert "This is PlugTrack's own columns separated by semicolons, as a spreadsheet saves them: import it with " \
           "--format auto" in str(refused.value)  # fmt: skip
    out = StringIO()
    call_command("sessions_import", "--from", str(path), "--format", "auto", stdout=out)
    assert "duplicates          4" in out.getvalue()


def test_the_admins_detect_it_reads_a_resaved_export_without_asking_for_columns(owner_client, exported):
    car, export = exported
    text = resaved(export, delimiter=";", decimal_comma=True, date_format="%d.%m.%Y")
    upload = SimpleUploadedFile("de.csv", text.encode(), "text/csv")
    data = {"car": car.pk, "import_file": upload, "file_format": "auto"}
    response = owner_client.post(reverse(IMPORT), data, follow=True)
    html = response.content.decode()
    assert Job.objects.get().options["file_format"] == "auto"  # straight to the check: no columns page
    assert "Every session in this file is stored already" in html


def test_a_saved_mapping_for_a_header_is_used_whatever_the_header_is(owner, exported, tmp_path):
    car, export = exported
    header = next(csv.reader(io.StringIO(export)))
    mapping = ColumnMapping(
        headings={"date": "date", "odometer": "odometer", "charge_type": "charge_type",
                  "charge_delivered_kwh": "charge_delivered_kwh", "location_label": "notes"},
    )  # fmt: skip
    mapping_profile_save(user=owner, mapping=mapping, header=header, name="my own")
    car.sessions.all().delete()
    path = tmp_path / "own.csv"
    path.write_text(export)
    report = charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    assert report.detected["mapping"] == "my own" and report.inserted == 4
    assert car.sessions.get(odometer=12480).location_label == "first"


# --- "previous" means previous in time --------------------------------------------------------

# evcc writes its newest session first; two of these have no odometer (the car was not connected).
EVCC_NEWEST_FIRST = (
    "Start Time,End Time,Charging point,Identifier,Vehicle,Mileage (km),Meter Start (kWh),Meter Stop (kWh),"
    "Energy (kWh),Charging Duration,Solar (%),Price,Price/kWh,CO2/kWh (gCO2eq)\n"
    "2026-11-09 19:00:00,2026-11-09 22:01:40,Garage,,Zoe,20480,1290.6,1315.85,25.25,3h1m40s,0,1.89,0.075,180\n"
    "2026-11-05 07:10:00,2026-11-05 09:40:00,Garage,,Zoe,,1270.6,1290.6,20,2h30m0s,0,1.50,0.075,180\n"
    "2026-11-02 18:02:11,2026-11-02 23:23:16,Garage,,Zoe,20117,1234.5,1270.6,36.1,5h21m5s,12.5,2.71,0.075,180\n"
    "2026-10-30 08:00:00,2026-10-30 09:00:00,Garage,,Zoe,,1224.5,1234.5,10,1h0m0s,0,0.75,0.075,180\n"
)


def test_previous_means_the_latest_odometer_dated_before_in_the_file_or_stored(owner, make_car, make_session,
                                                                               tmp_path):  # fmt: skip
    car = make_car(owner)
    path = tmp_path / "evcc.csv"
    path.write_text(EVCC_NEWEST_FIRST)
    choices = {"currency": "GBP", "blank_odometer": "previous"}
    # Nothing before 30 October, in the file or stored: that row's error, the others fine.
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="evcc", choices=ImportChoices(**choices), dry_run=True),
    )  # fmt: skip
    assert [(issue.row, issue.field) for issue in report.errors] == [(5, "odometer")]
    assert "no session dated before this one has one, in the file or stored" in report.errors[0].message

    make_session(car, "2026-10-01", 12400, "30")
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="evcc", choices=ImportChoices(**choices)),
    )  # fmt: skip
    assert report.ok and report.inserted == 4
    nov5, oct30 = car.sessions.get(date=dt.date(2026, 11, 5)), car.sessions.get(date=dt.date(2026, 10, 30))
    assert nov5.odometer == 12500  # 2 November's 20,117 km, never 9 November's later 20,480 km
    assert "12,500 mi taken from the session of 2 Nov 2026 (on line 4), the latest before it" in nov5.notes
    assert oct30.odometer == 12400 and "taken from the session of 1 Oct 2026 (stored already)" in oct30.notes
    # The same file again: the same odometers, so every row is a duplicate.
    again = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="evcc", choices=ImportChoices(**choices)),
    )  # fmt: skip
    assert (again.inserted, again.skipped_duplicates) == (0, 4)


def test_on_one_day_previous_is_the_earlier_time(owner, make_car, tmp_path):
    car = make_car(owner)
    path = tmp_path / "day.csv"
    path.write_text("Date,Mileage,Type,kWh\n2026-11-02 20:00,,AC,5\n2026-11-02 08:00,12500,AC,30\n"
                    "2026-11-02 12:00,12560,AC,10\n")  # fmt: skip
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(blank_odometer="previous")),
    )  # fmt: skip
    assert report.ok and car.sessions.get(charge_delivered_kwh=5).odometer == 12560


# --- money to the penny -----------------------------------------------------------------------


def test_evccs_four_decimal_money_is_rounded_to_the_penny_and_said(owner, make_car, tmp_path):
    car = make_car(owner)
    path = tmp_path / "evcc.csv"
    path.write_text(
        "Start Time,End Time,Charging point,Identifier,Vehicle,Mileage (km),Meter Start (kWh),Meter Stop (kWh),"
        "Energy (kWh),Charging Duration,Solar (%),Price,Price/kWh,CO2/kWh (gCO2eq)\n"
        "2026-11-02 18:02:11,2026-11-02 23:23:16,Garage,,Zoe,20117,1234.5,1270.6,36.1,5h21m5s,12.5,2.7632,0.07654,180\n"
        "2026-11-09 19:00:00,2026-11-09 19:45:00,Garage,,Zoe,20480,1270.6,1280.6,10,45m0s,0,0.765,0.07625,180\n"
    )
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="evcc", choices=ImportChoices(currency="GBP")),
    )  # fmt: skip
    assert report.ok and report.inserted == 2
    first, second = car.sessions.order_by("date")
    assert (first.total_cost_gbp, first.cost_per_kwh) == (Decimal("2.76"), Decimal("0.0765"))
    assert "total cost 2.7632 → £2.76" in first.notes and "price per kWh 0.07654 → £0.0765" in first.notes
    # half to even: 0.765 → £0.76, 0.07625 → £0.0762
    assert (second.total_cost_gbp, second.cost_per_kwh) == (Decimal("0.76"), Decimal("0.0762"))
    assert "total cost 0.765 → £0.76" in second.notes


# --- files without an odometer ----------------------------------------------------------------

# Shaped like Tesla's charging history download: camelCase headings, no odometer, costs in pounds.
TESLA_REPORT = (
    "ChargeStartDateTime,Vin,Country,SiteLocationName,ChargeStopDateTime,DescriptionofCharges,QuantityBase,"
    "UnitCostBase,TotalInclVat\n"
    "2026-11-03T18:02:00,5YJ3E7EB0KF000001,GB,Leeds - Thorpe Park,2026-11-03T18:40:00,CHARGING,41.2,0.52,21.42\n"
    "2026-11-10T09:10:00,5YJ3E7EB0KF000001,GB,Washington Services,2026-11-10T09:35:00,CHARGING,30.5,0.55,16.78\n"
)
TESLA_MAPPING = ColumnMapping(
    headings={"date": "ChargeStartDateTime", "location_label": "SiteLocationName",
              "charge_delivered_kwh": "QuantityBase", "cost_per_kwh": "UnitCostBase", "total_cost_gbp": "TotalInclVat"},
    fixed={"charge_type": "DC"},
)  # fmt: skip


def test_a_file_without_an_odometer_says_why_one_is_needed_and_imports_with_the_rule(owner, make_car, make_session,
                                                                                     tmp_path):  # fmt: skip
    car = make_car(owner)
    path = tmp_path / "tesla.csv"
    path.write_text(TESLA_REPORT)
    with pytest.raises(CsvFileError) as refused:
        charging_sessions_import(
            user=owner, car=car, source=path,
            options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(mapping=TESLA_MAPPING)),
        )  # fmt: skip
    message = str(refused.value)
    assert message.startswith("tesla.csv has no column for the odometer. PlugTrack needs each session's odometer")
    assert "--blank-odometer previous" in message and "0 miles driven" in message

    make_session(car, "2026-10-28", 15210, "40")
    choices = ImportChoices(mapping=TESLA_MAPPING, blank_odometer="previous")
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", choices=choices),
    )
    assert report.ok and report.inserted == 2
    assert set(car.sessions.values_list("odometer", flat=True)) == {15210}
    session = car.sessions.get(date=dt.date(2026, 11, 10))
    assert (session.charge_type, session.location_label, session.total_cost_gbp) == ("DC", "Washington Services",
                                                                                     Decimal("16.78"))  # fmt: skip
    assert "15,210 mi taken from the session of 28 Oct 2026 (stored already), the latest before it (0 miles" in \
        session.notes  # fmt: skip


def test_plain_headings_are_proposed_and_a_duration_may_be_in_seconds(owner, make_car, make_session, tmp_path):
    header = ["session_id", "start_time", "end_time", "location", "charge_type", "energy_kwh", "cost",
              "price_per_kwh", "start_soc", "end_soc", "duration_seconds", "odometer_km"]  # fmt: skip
    mapping, ignored = preset_mapping("spreadsheet", header, "lightning.csv")
    assert mapping.headings == {
        "date": "start_time", "location_label": "location", "charge_type": "charge_type",
        "charge_delivered_kwh": "energy_kwh", "total_cost_gbp": "cost", "cost_per_kwh": "price_per_kwh",
        "soc_from": "start_soc", "soc_to": "end_soc", "duration_mins": "duration_seconds", "odometer": "odometer_km",
    }  # fmt: skip
    assert mapping.units == {"duration_mins": "seconds", "odometer": "km"} and ignored == ["session_id", "end_time"]
    # A file with both a date and a start time reads its date from the date.
    mapping, ignored = preset_mapping("spreadsheet", ["Date", "Start time", "kWh", "Mileage"], "log.csv")
    assert mapping.headings["date"] == "Date" and ignored == ["Start time"]

    car = make_car(owner)
    path = tmp_path / "lightning.csv"
    row = "7,2026-11-03 18:02,2026-11-03 19:02,Home,AC,30.5,2.29,0.075,20,67,3630,20117"
    path.write_text(",".join(header) + f"\n{row}\n")
    report = charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    assert report.ok and car.sessions.get().duration_mins == 61 and car.sessions.get().odometer == 12500


def test_a_thousands_separator_out_of_place_is_the_rows_error_never_a_bigger_number(owner, make_car, tmp_path):
    car = make_car(owner)
    path = tmp_path / "sheet.csv"
    path.write_text('Date,Mileage,Type,kWh\n2026-11-02,"12,480",AC,"30.5"\n2026-11-05,"12,5",AC,"1,5"\n')
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", allow_partial=True),
    )
    assert [(issue.row, issue.field, issue.value) for issue in report.errors] == [
        (3, "odometer", "12,5"), (3, "charge_delivered_kwh", "1,5"),
    ]  # fmt: skip
    assert list(car.sessions.values_list("odometer", flat=True)) == [12480]


@pytest.mark.parametrize(
    ("heading", "unit", "value"),
    [("Took", "seconds", "Infinity"), ("Took", "seconds", "sNaN"), ("Odo", "km", "9" * 30),
     ("Pence", "pence", "1e999999999"), ("Cost", None, "1e999999999"), ("Took", "hms", "9" * 5000 + "h")],
)  # fmt: skip
def test_a_hostile_number_in_any_unit_is_the_rows_error_not_a_traceback(owner, make_car, tmp_path, heading, unit,
                                                                          value):  # fmt: skip
    columns = {"Odo": "odometer", "Took": "duration_mins", "Pence": "cost_per_kwh", "Cost": "total_cost_gbp"}
    mapping = ColumnMapping(
        headings={"date": "Date", "charge_delivered_kwh": "kWh", "odometer": "Odo", columns[heading]: heading},
        units={columns[heading]: unit} if unit else {}, fixed={"charge_type": "AC"},
    )  # fmt: skip
    cells = {"Date": "2026-11-02", "kWh": "30", "Odo": "12480", heading: value}
    path = tmp_path / "hostile.csv"
    path.write_text(",".join(cells) + "\n" + ",".join(cells.values()) + "\n")
    for blank_odometer in ("error", "previous"):
        choices = ImportChoices(mapping=mapping, blank_odometer=blank_odometer, currency="GBP")
        car = make_car(owner, name=f"{heading}{unit}{blank_odometer}")
        options = ImportOptions(file_format="spreadsheet", choices=choices)
        report = charging_sessions_import(user=owner, car=car, source=path, options=options)
        assert [issue.field for issue in report.errors] == [columns[heading]]


def test_previous_never_makes_two_sessions_one_and_a_file_imported_again_adds_nothing(owner, make_car, make_session,
                                                                                      tmp_path):  # fmt: skip
    car = make_car(owner)
    make_session(car, "2026-10-28", 15210, "40")
    path = tmp_path / "tesla.csv"
    path.write_text(TESLA_REPORT)
    choices = ImportChoices(mapping=TESLA_MAPPING, blank_odometer="previous")
    options = ImportOptions(file_format="spreadsheet", choices=choices)
    assert charging_sessions_import(user=owner, car=car, source=path, options=options).inserted == 2
    make_session(car, "2026-11-05", 15400, "30")  # a session typed in since, between the file's two
    again = charging_sessions_import(user=owner, car=car, source=path, options=options)
    assert (again.inserted, again.skipped_duplicates) == (0, 2)  # each found again by its day and energy
    assert car.sessions.get(date=dt.date(2026, 11, 10)).odometer == 15210  # as first imported

    twice = TESLA_REPORT + TESLA_REPORT.splitlines()[2].replace("09:10:00", "15:00:00") + "\n"  # same day, same kWh
    path.write_text(twice)
    report = charging_sessions_import(user=owner, car=make_car(owner, name="Other"), source=path, options=options)
    assert [(issue.row, issue.field) for issue in report.errors][-1:] == [(4, "odometer")]
    assert "line 3 has the same day and energy and no odometer either" in report.errors[-1].message

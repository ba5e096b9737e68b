"""Other apps' exports (issue 13, point 3): evcc's sessions CSV in German and English, TeslaFi's
poll export rebuilt into sessions; money in another currency, zoned date-times and blank odometers
asked about, never guessed; what PlugTrack worked out said in the session's notes."""

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
from sessions_app.models import ImportBatch

# evcc's "Download CSV" with its German headings: semicolons, decimal commas, km, Go durations, a
# blank odometer (the car was not connected to evcc), prices in the currency evcc is set to (euros).
EVCC_DE = (
    "Startzeit;Endzeit;Ladepunkt;Kennung;Fahrzeug;Kilometerstand (km);Zählerstand Start (kWh);"
    "Zählerstand Ende (kWh);Energie (kWh);Ladedauer;Sonne (%);Preis;Preis/kWh;CO₂/kWh (gCO₂e)\n"
    "2026-11-02 18:02:11;2026-11-02 23:23:16;Garage;;Model 3;20117;1234,5;1270,6;36,1;5h21m5s;12,5;10,83;0,3;380\n"
    "2026-11-05 07:10:00;2026-11-05 09:40:00;Garage;;Model 3;;1270,6;1290,6;20;2h30m0s;0;6;0,3;380\n"
    "2026-11-09 19:00:00;2026-11-09 22:01:40;Garage;;Model 3;20480;1290,6;1315,85;25,25;3h1m40s;0;7,58;0,3;380\n"
)
EVCC_EN = (
    "Start Time,End Time,Charging point,Identifier,Vehicle,Mileage (km),Meter Start (kWh),Meter Stop (kWh),"
    "Energy (kWh),Charging Duration,Solar (%),Price,Price/kWh,CO2/kWh (gCO2eq)\n"
    "2026-11-02 18:02:11,2026-11-02 23:23:16,Driveway,,Zoe,20117,1234.5,1270.6,36.1,5h21m5s,12.5,2.71,0.075,180\n"
    "2026-11-09 19:00:00,2026-11-09 19:45:00,Driveway,,Zoe,20480,1270.6,1280.6,10,45m0s,0,0.75,0.075,180\n"
)


def write(tmp_path, text: str, name: str = "evcc.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_evccs_german_export_asks_for_its_currency_then_imports_in_pounds_and_miles(owner, make_car, tmp_path):
    car = make_car(owner)
    path = write(tmp_path, EVCC_DE)
    with pytest.raises(ShapeQuestion, match=r"costs \(line 2\) are in the currency the app was set to.*--currency EUR"):
        charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="auto"))
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(
            file_format="auto",
            allow_partial=True,
            choices=ImportChoices(currency="EUR", rate=Decimal("0.86")),
        ),
    )  # fmt: skip
    assert report.detected | {"columns": None} == report.detected | {
        "format": "evcc", "delimiter": "semicolon", "decimal_mark": "comma", "date_order": "year-month-day",
        "money": "EUR, converted at £0.86 per EUR", "columns": None,
    }  # fmt: skip
    assert report.detected["columns"]["odometer"] == "Kilometerstand (km)"
    assert report.detected["columns"]["charge_type"] == '"AC" for every row'
    # The blank odometer is that row's error, with the reason; the others are imported.
    assert [(issue.row, issue.field) for issue in report.errors] == [(3, "odometer")]
    assert "The odometer is blank" in report.errors[0].message and "skip the row" in report.errors[0].message
    first = car.sessions.get(date=dt.date(2026, 11, 2))
    assert (first.odometer, first.charge_type, first.location_label, first.charge_delivered_kwh) == (
        12500, "AC", "Garage", Decimal("36.100"),
    )  # fmt: skip
    assert (first.duration_mins, first.total_cost_gbp, first.cost_per_kwh) == (321, Decimal("9.31"), Decimal("0.2580"))
    assert first.notes == (
        "PlugTrack: odometer 20117 km → 12500 miles; price per kWh 0.3 EUR → £0.2580 at 0.86; "
        "total cost 10.83 EUR → £9.31 at 0.86"
    )
    assert car.sessions.get(date=dt.date(2026, 11, 9)).odometer == 12726  # 20,480 km
    # The import's record keeps how the file was read: format, shape, mapping, money.
    batch = ImportBatch.objects.get(pk=report.batch_id)
    assert batch.format == "evcc" and batch.mapping["columns"]["odometer"] == "Kilometerstand (km)"
    assert batch.mapping["money"] == "EUR, converted at £0.86 per EUR"


def test_evccs_blank_odometer_rules_are_the_persons_choice_and_said(owner, make_car, tmp_path):
    car = make_car(owner)
    path = write(tmp_path, EVCC_DE)
    choices = {"currency": "none"}
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="evcc", choices=ImportChoices(**choices, blank_odometer="skip")),
    )  # fmt: skip
    # Left out, with a warning; the session after it now looks implausible (226 miles on 25 kWh), and says so.
    assert report.ok and report.inserted == 2 and [(issue.row, issue.field) for issue in report.warnings] == [
        (3, "odometer"), (4, "odometer"),
    ]  # fmt: skip
    assert "skip" in report.warnings[0].message and not car.sessions.filter(total_cost_gbp__isnull=False).exists()
    car.sessions.all().delete()
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="evcc", choices=ImportChoices(**choices, blank_odometer="previous")),
    )  # fmt: skip
    assert report.ok and report.inserted == 3
    taken = car.sessions.get(date=dt.date(2026, 11, 5))
    assert taken.odometer == 12500 and taken.notes == (
        "PlugTrack: odometer blank in the file: 12,500 mi taken from the session of 2 Nov 2026 (on line 2), the "
        "latest before it (0 miles driven)"
    )


def test_evccs_english_export_in_pounds_by_the_command(owner, make_car, tmp_path, capsys):
    car = make_car(owner)
    path = write(tmp_path, EVCC_EN)
    with pytest.raises(CommandError, match="--currency") as refused:
        call_command("sessions_import", "--from", str(path), "--format", "auto")
    assert refused.value.returncode == 2
    call_command("sessions_import", "--from", str(path), "--format", "auto", "--currency", "GBP", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["inserted"] == 2 and report["detected"]["format"] == "evcc"
    assert report["detected"]["money"] == "pounds" and report["detected"]["delimiter"] == "comma"
    short = car.sessions.get(date=dt.date(2026, 11, 9))
    assert (short.duration_mins, short.total_cost_gbp, short.notes) == (45, Decimal("0.75"), "PlugTrack: odometer "
                                                                        "20480 km → 12726 miles")  # fmt: skip


def test_money_choices_are_checked_before_anything_is_read(owner, make_car, tmp_path):
    with pytest.raises(CsvFileError, match="Costs in EUR need the exchange rate"):
        ImportChoices(currency="EUR")
    with pytest.raises(CsvFileError, match="pounds already"):
        ImportChoices(currency="GBP", rate="0.9")
    with pytest.raises(CsvFileError, match='"EURO" is not a currency code'):
        ImportChoices(currency="euro", rate="0.86")
    with pytest.raises(CsvFileError, match="Unknown time zone"):
        ImportChoices(time_zone="Europe/Londres")


def test_zoned_date_times_ask_for_the_local_zone_and_take_the_local_date(owner, make_car, tmp_path):
    car = make_car(owner)
    # 23:30 UTC on 25 November is already 26 November in Berlin, still the 25th in London.
    text = "Date,Mileage,Type,kWh\n2026-11-25T23:30:00Z,12480,AC,30.5\n2026-11-27 08:00:00+01:00,12590,AC,20\n"
    path = write(tmp_path, text, "zoned.csv")
    with pytest.raises(ShapeQuestion, match=r"line 2 has a date-time with a time zone offset.*--timezone"):
        charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="spreadsheet"))
    report = charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(time_zone="Europe/Berlin")),
    )  # fmt: skip
    assert report.detected["time_zone"] == "Europe/Berlin"
    assert sorted(str(date) for date in car.sessions.values_list("date", flat=True)) == ["2026-11-26", "2026-11-27"]
    car.sessions.all().delete()
    charging_sessions_import(
        user=owner, car=car, source=path,
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(time_zone="Europe/London")),
    )  # fmt: skip
    assert sorted(str(date) for date in car.sessions.values_list("date", flat=True)) == ["2026-11-25", "2026-11-27"]


# TeslaFi's export: a row per poll, ~150 columns (most left out here as fillers), local times.
TESLAFI_COLUMNS = [
    "data_id", "Date", "state", "charging_state", "charge_energy_added", "battery_level", "odometer", "outside_temp",
    "fast_charger_present", "charger_power", "location", *(f"filler_{number}" for number in range(140)),
]  # fmt: skip
TESLAFI_POLLS = [
    # Date, state, charging_state, energy, level, odometer, temp, fast, power, location
    ("2026-11-02 17:50:00", "online", "Disconnected", "0", "40", "12000.4", "8", "False", "0", ""),
    ("2026-11-02 18:00:00", "online", "Charging", "0.5", "41", "12000.4", "8", "False", "7", "Home"),
    ("2026-11-02 18:30:00", "online", "Charging", "3.9", "46", "12000.4", "7", "False", "7", "Home"),
    ("2026-11-02 19:00:00", "online", "Charging", "7.4", "52", "12000.4", "6", "False", "7", "Home"),
    ("2026-11-02 19:10:00", "online", "Complete", "8.0", "53", "12000.4", "6", "False", "0", "Home"),
    ("2026-11-02 19:20:00", "online", "Complete", "8.0", "53", "12000.4", "6", "False", "0", "Home"),
    ("2026-11-03 12:10:00", "online", "Charging", "10", "20", "12110.6", "11", "True", "120", "Ionity Cobham"),
    ("2026-11-03 12:30:00", "online", "Charging", "35", "70", "12110.6", "12", "True", "95", "Ionity Cobham"),
    ("2026-11-03 12:40:00", "online", "Disconnected", "35", "70", "12110.6", "12", "False", "0", ""),
    # A new charge without a closing poll between: its energy counter starts again.
    ("2026-11-04 20:00:00", "online", "Charging", "2.0", "60", "12160.2", "5", "False", "11", "Work"),
    ("2026-11-04 20:30:00", "online", "Charging", "6.5", "68", "12160.2", "5", "False", "11", "Work"),
    ("2026-11-04 21:00:00", "online", "Charging", "0.4", "69", "12160.2", "5", "False", "3", "Work"),
    ("2026-11-04 21:10:00", "online", "Stopped", "1.1", "70", "12160.2", "5", "False", "0", "Work"),
]


def teslafi_file(tmp_path, polls=TESLAFI_POLLS):
    lines = [",".join(TESLAFI_COLUMNS)]
    for number, poll in enumerate(polls, start=1):
        lines.append(",".join([str(number), *poll, *([""] * 140)]))
    return write(tmp_path, "\n".join(lines) + "\n", "TeslaFi112026.csv")


def test_teslafi_polls_are_rebuilt_into_sessions(owner, make_car, tmp_path):
    car = make_car(owner)
    report = charging_sessions_import(
        user=owner, car=car, source=teslafi_file(tmp_path),
        options=ImportOptions(file_format="auto"),
    )
    assert report.ok and report.detected["format"] == "teslafi" and report.inserted == 4
    rows = list(
        car.sessions.order_by("date", "id").values_list(
            "date", "odometer", "charge_type", "charge_power_kw", "location_label", "charge_delivered_kwh",
            "duration_mins", "soc_from", "soc_to", "ambient_temp_c", "notes",
        )
    )  # fmt: skip
    assert rows == [
        (dt.date(2026, 11, 2), 12000, "AC", Decimal("7.00"), "Home", Decimal("8.000"), 70, 41, 53, Decimal("6.8"),
         "PlugTrack: reconstructed from 4 TeslaFi polls, 18:00–19:10"),
        (dt.date(2026, 11, 3), 12111, "DC", Decimal("120.00"), "Ionity Cobham", Decimal("35.000"), 20, 20, 70,
         Decimal("11.5"), "PlugTrack: reconstructed from 2 TeslaFi polls, 12:10–12:30"),
        (dt.date(2026, 11, 4), 12160, "AC", Decimal("11.00"), "Work", Decimal("6.500"), 30, 60, 68, Decimal("5.0"),
         "PlugTrack: reconstructed from 2 TeslaFi polls, 20:00–20:30"),
        (dt.date(2026, 11, 4), 12160, "AC", Decimal("3.00"), "Work", Decimal("1.100"), 10, 69, 70, Decimal("5.0"),
         "PlugTrack: reconstructed from 2 TeslaFi polls, 21:00–21:10"),
    ]  # fmt: skip


def test_a_teslafi_poll_that_cannot_be_read_is_its_lines_error(owner, make_car, tmp_path):
    car = make_car(owner)
    polls = [*TESLAFI_POLLS[:2], ("2026-11-02 18:30:00", "online", "Charging", "lots", "46", "12000.4", "7", "False",
                                 "7", "Home"), *TESLAFI_POLLS[3:5]]  # fmt: skip
    report = charging_sessions_import(
        user=owner, car=car, source=teslafi_file(tmp_path, polls),
        options=ImportOptions(file_format="teslafi"),
    )
    assert [(issue.row, issue.field, issue.value) for issue in report.errors] == [(4, "charge_energy_added", "lots")]
    assert not car.sessions.exists()
    missing = tmp_path / "polls.csv"
    missing.write_text("Date,charging_state,battery_level\n2026-11-02 18:00:00,Charging,41\n")
    with pytest.raises(CsvFileError, match="not a TeslaFi export: it has no charge_energy_added, odometer column"):
        charging_sessions_import(user=owner, car=car, source=missing, options=ImportOptions(file_format="teslafi"))

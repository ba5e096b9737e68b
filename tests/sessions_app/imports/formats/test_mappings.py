"""Column mappings (issue 13, point 2): any heading mapped to a field with its unit, saved as a named
profile of the owner, offered again for the same header, exported and imported as JSON."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from jobs.models import Job
from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.formats.mapping import ColumnMapping, value_in_unit
from sessions_app.imports.mapping_profiles import mapping_for_header, mapping_profile_save
from sessions_app.models import MappingProfile

from ..test_csv_admin import confirm

# A log kept in a notes app: nothing PlugTrack's headings understand, km, Wh, "1h23m", pence.
ODD = (
    "When;Odo;Juice;Took;Pence per unit;What\n02.11.2026;20117;36100;5h21m;7,5;home\n25.11.2026;20480;25250;3h2m;7,5;\n"
)
ODD_MAPPING = {
    "plugtrack_mapping": 1,
    "name": "notes app",
    "columns": {
        "date": "When",
        "odometer": {"heading": "Odo", "unit": "km"},
        "charge_delivered_kwh": {"heading": "Juice", "unit": "wh"},
        "duration_mins": {"heading": "Took", "unit": "hms"},
        "cost_per_kwh": {"heading": "Pence per unit", "unit": "pence"},
        "notes": "What",
        "charge_type": {"value": "AC"},
    },
}


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("20117", "km", "12500"), ("1609.344", "km", "1000"), ("36100", "wh", "36.1"), ("1000", "wh", "1"),
        ("5h21m5s", "hms", "321"), ("1h23m", "hms", "83"), ("45m", "hms", "45"), ("1:23:30", "hms", "84"),
        ("2.5", "hours", "150"), ("7.5", "pence", "0.075"), ("1234.5", "pence", "12.345"), ("3600", "seconds", "60"),
        ("90", "seconds", "2"), ("19265.123", "seconds", "321"),
        ("36123.5", "wh", "36.124"),
        ("5h21m5.123s", "hms", "321"), ("1h23min", "hms", "83"), ("12480", "miles", "12480"), ("lots", "km", "lots"),
        ("1 day", "hms", "1 day"), ("", "km", ""),
    ],
)  # fmt: skip
def test_each_unit_becomes_plugtracks_own(text, unit, expected):
    assert value_in_unit(text, unit) == expected


def test_a_mapping_file_reads_any_headings_with_their_units(owner, make_car, tmp_path, capsys):
    car = make_car(owner)
    (tmp_path / "log.csv").write_text(ODD, encoding="utf-8")
    (tmp_path / "notes-app.json").write_text(json.dumps(ODD_MAPPING), encoding="utf-8")
    with pytest.raises(CommandError, match="no column for date, charge_delivered_kwh"):
        call_command("sessions_import", "--from", str(tmp_path / "log.csv"), "--format", "auto")
    call_command("sessions_import", "--from", str(tmp_path / "log.csv"), "--format", "spreadsheet",
                 "--mapping", str(tmp_path / "notes-app.json"), "--json")  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["inserted"] == 2 and report["detected"]["mapping"] == "notes app"
    assert report["detected"]["columns"]["charge_delivered_kwh"] == "Juice (Wh)"
    assert report["detected"]["date_order"] == "day/month/year" and report["detected"]["decimal_mark"] == "comma"
    first = car.sessions.get(date=dt.date(2026, 11, 2))
    assert (first.odometer, first.charge_delivered_kwh, first.duration_mins, first.cost_per_kwh, first.charge_type) == (
        12500, Decimal("36.100"), 321, Decimal("0.0750"), "AC",
    )  # fmt: skip
    assert first.notes == "home · PlugTrack: odometer 20117 km → 12500 miles"


def test_a_saved_mapping_is_offered_again_for_the_same_header_and_round_trips_as_json(owner, make_car, tmp_path):
    car = make_car(owner)
    (tmp_path / "notes-app.json").write_text(json.dumps(ODD_MAPPING), encoding="utf-8")
    (tmp_path / "log.csv").write_text(ODD, encoding="utf-8")
    call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "notes-app.json"))
    profile = MappingProfile.objects.get(user=owner)
    assert profile.name == "notes app" and profile.header == []  # no header in the file: usable by name only
    mapping = ColumnMapping.from_json(profile.mapping)
    report = charging_sessions_import(
        user=owner, car=car, source=tmp_path / "log.csv",
        options=ImportOptions(file_format="auto", choices=ImportChoices(mapping=mapping)),
    )  # fmt: skip
    assert report.inserted == 2
    # Saved for this header, it is used by itself for the next file like it, and said.
    header = ODD.splitlines()[0].split(";")
    mapping_profile_save(user=owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=header, name="my log")
    assert mapping_for_header(owner, [f" {heading.upper()} " for heading in header]).name == "my log"
    (tmp_path / "december.csv").write_text(ODD.replace("11.2026", "12.2026"), encoding="utf-8")
    report = charging_sessions_import(
        user=owner, car=car, source=tmp_path / "december.csv",
        options=ImportOptions(file_format="auto"),
    )
    assert report.inserted == 2 and report.detected["mapping"] == "my log"
    # Exported and imported again (as another owner would), it is the same mapping.
    call_command("mapping_profiles", "--user", "alice", "--export", "my log", "--to", str(tmp_path / "out.json"))
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported["header"] == header and exported["columns"] == ODD_MAPPING["columns"]
    call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "out.json"), "--name", "copy")
    copy = MappingProfile.objects.get(user=owner, name="copy")
    assert (copy.header, copy.header_key, copy.mapping["columns"]) == (header, profile.__class__.objects.get(
        name="my log").header_key, ODD_MAPPING["columns"])  # fmt: skip


def test_another_owners_saved_mapping_is_never_offered(owner, make_car, tmp_path, django_user_model):
    other = django_user_model.objects.create_user("bob")
    header = ODD.splitlines()[0].split(";")
    mapping_profile_save(user=other, mapping=ColumnMapping.from_json(ODD_MAPPING), header=header, name="bob's")
    assert mapping_for_header(owner, header) is None
    (tmp_path / "log.csv").write_text(ODD, encoding="utf-8")
    with pytest.raises(CsvFileError, match="no column for date"):
        charging_sessions_import(
            user=owner, car=make_car(owner), source=tmp_path / "log.csv",
            options=ImportOptions(file_format="auto"),
        )
    with pytest.raises(CommandError, match='No saved mapping "bob\'s" and no such file. Saved mappings: none yet'):
        call_command("sessions_import", "--user", "alice", "--from", str(tmp_path / "log.csv"), "--mapping", "bob's")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"columns": {"date": "When"}}, 'not a PlugTrack mapping: it needs "plugtrack_mapping": 1'),
        ({"plugtrack_mapping": 1, "columns": []}, '"columns" must map PlugTrack fields to headings'),
        ({"plugtrack_mapping": 1, "columns": {"mileage": "Odo"}}, "fields PlugTrack does not have: mileage"),
        ({"plugtrack_mapping": 1, "columns": {"odometer": {"heading": "Odo", "unit": "furlongs"}}},
         'gives odometer the unit "furlongs"; its units are: miles, km'),
        ({"plugtrack_mapping": 1, "columns": {"date": 3}}, "the column for date must be a heading"),
    ],
)  # fmt: skip
def test_a_broken_mapping_file_is_refused_with_what_is_wrong(owner, tmp_path, mapping, message):
    (tmp_path / "bad.json").write_text(json.dumps(mapping), encoding="utf-8")
    with pytest.raises(CommandError, match=message) as refused:
        call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "bad.json"))
    assert refused.value.returncode == 2 and not MappingProfile.objects.exists()


def test_a_mapping_naming_headings_the_file_lacks_says_which(owner, make_car, tmp_path):
    (tmp_path / "log.csv").write_text(ODD.replace("Juice", "Energy"), encoding="utf-8")
    with pytest.raises(CsvFileError, match="log.csv has no column 'Juice', which the mapping 'notes app' reads"):
        charging_sessions_import(
            user=owner, car=make_car(owner), source=tmp_path / "log.csv",
            options=ImportOptions(
                file_format="auto",
                choices=ImportChoices(mapping=ColumnMapping.from_json(ODD_MAPPING)),
            ),
        )  # fmt: skip
    (tmp_path / "junk.json").write_bytes(b"\xff{not json")
    with pytest.raises(CommandError, match="junk.json is not a mapping's JSON"):
        call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "junk.json"))


# --- the admin: file → its columns, editable → check → confirm ----------------------------------

IMPORT = "admin:sessions_app_chargingsession_import"


def columns_form_data(response, **changes) -> dict:
    """The "Which column is which" form as proposed, with `changes`."""
    form = response.context["form"]
    return {name: form[name].value() or "" for name in form.fields} | changes


def upload(client, car, text: str, name: str = "log.csv", **fields):
    data = {"car": car.pk, "import_file": SimpleUploadedFile(name, text.encode(), "text/csv"), "file_format": "auto"}
    return client.post(reverse(IMPORT), data | fields, follow=True)


def test_the_admin_asks_for_the_columns_it_cannot_tell_saves_them_and_offers_them_again(owner_client, owner,
                                                                                        make_car):  # fmt: skip
    car = make_car(owner)
    response = upload(owner_client, car, ODD)
    html = response.content.decode()
    assert "read as your own spreadsheet, UTF-8, semicolon-separated, with 6 columns" in html
    assert "no column is chosen for the date and the energy (kWh)" in html  # what it could not tell, before any check
    assert not Job.objects.exists()
    columns_url = response.request["PATH_INFO"]
    incomplete = owner_client.post(columns_url, columns_form_data(response))
    assert "no column is chosen for the date and the energy (kWh)" in incomplete.content.decode()
    chosen = columns_form_data(
        response, column_date="When", column_odometer="Odo", unit_odometer="km", column_charge_delivered_kwh="Juice",
        unit_charge_delivered_kwh="wh", column_duration_mins="Took", unit_duration_mins="hms",
        column_cost_per_kwh="Pence per unit", unit_cost_per_kwh="pence", column_notes="What", charge_type_fixed="AC",
        save_as="notes app",
    )  # fmt: skip
    response = owner_client.post(columns_url, chosen, follow=True)
    html = response.content.decode()
    # (PostgreSQL keeps a job's report as jsonb, which orders the columns its own way)
    assert "Columns (notes app): " in html and "date from “When”" in html and "odometer (miles) from “Odo (km)”" in html
    assert "energy (kWh) from “Juice (Wh)”" in html
    confirm(owner_client, response)
    assert car.sessions.get(date=dt.date(2026, 11, 2)).charge_delivered_kwh == Decimal("36.100")
    assert MappingProfile.objects.get(user=owner).name == "notes app"
    # The next file with these headings comes with them, proposed.
    response = upload(owner_client, car, ODD.replace("11.2026", "12.2026"), "december.csv")
    assert "The columns below are those of <strong>notes app</strong>" in response.content.decode()
    assert response.context["form"]["column_odometer"].value() == "Odo"
    assert owner_client.get(columns_url, follow=True).redirect_chain  # the first upload's page is gone


def test_plugtracks_own_file_and_teslafis_polls_go_straight_to_their_check(owner_client, owner, make_car, tmp_path):
    from .test_presets import teslafi_file

    car = make_car(owner)
    response = upload(owner_client, car, teslafi_file(tmp_path).read_text(), "TeslaFi.csv")
    html = response.content.decode()
    assert (
        "Read as TeslaFi's polls, rebuilt into sessions" in html
        and "energy (kWh) from “the highest charge_energy_added”" in html
    )
    confirm(owner_client, response)
    assert car.sessions.count() == 4


def test_a_file_with_too_many_columns_for_the_columns_page_is_refused_before_it(owner_client, owner, make_car):
    header = ";".join(f"c{number}" for number in range(501))
    response = upload(owner_client, make_car(owner), f"{header}\n" + ";" * 500 + "\n")
    assert "og.csv has 501 columns; PlugTrack reads files of up to 500" in response.content.decode()
    assert not Job.objects.exists() and not any((settings.PLUGTRACK_DATA_DIR / "uploads").rglob("*.csv"))


def test_the_columns_page_refuses_money_it_cannot_convert(owner_client, owner, make_car):
    response = upload(owner_client, make_car(owner), ODD)
    refused = owner_client.post(response.request["PATH_INFO"], columns_form_data(response, currency="EUR"))
    assert "Costs in EUR need the exchange rate" in refused.content.decode() and not Job.objects.exists()


def test_saved_mappings_in_the_admin_are_the_owners_checked_and_downloaded_as_json(owner_client, owner, other_owner):
    header = ODD.splitlines()[0].split(";")
    mine = mapping_profile_save(user=owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=header, name="mine")
    mapping_profile_save(user=other_owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=header, name="theirs")
    changelist = reverse("admin:sessions_app_mappingprofile_changelist")
    html = owner_client.get(changelist).content.decode()
    assert "mine" in html and "theirs" not in html and "When, Odo, Juice" in html
    response = owner_client.post(changelist, {"action": "download_json", "_selected_action": [mine.pk]})
    assert response["Content-Disposition"] == 'attachment; filename="mine.json"'
    assert json.loads(response.content)["columns"] == ODD_MAPPING["columns"]
    change = reverse("admin:sessions_app_mappingprofile_change", args=[mine.pk])
    text = json.dumps({"plugtrack_mapping": 1, "columns": {"mileage": "Odo"}, "header": header})
    broken = {"name": "mine", "json_file": SimpleUploadedFile("broken.json", text.encode())}
    assert "fields PlugTrack does not have: mileage" in owner_client.post(change, broken).content.decode()
    assert MappingProfile.objects.get(pk=mine.pk).mapping == ColumnMapping.from_json(ODD_MAPPING).to_json() | {
        "name": "mine"
    }


def test_choices_a_format_cannot_use_are_refused_never_ignored(owner, make_car, tmp_path):
    from ...csv_helpers import session_row, write_csv
    from .test_presets import teslafi_file

    car = make_car(owner)
    (tmp_path / "log.csv").write_text(ODD, encoding="utf-8")
    with pytest.raises(CommandError, match=r"log.csv is PlugTrack's own CSV, read as it is .*: the currency you") as no:
        call_command("sessions_import", "--from", str(tmp_path / "log.csv"), "--currency", "GBP")
    assert no.value.returncode == 2
    own = write_csv(tmp_path, [session_row()])  # auto finds PlugTrack's own file: a time zone would do nothing
    with pytest.raises(CsvFileError, match="the time zone you gave would not be used"):
        charging_sessions_import(
            user=owner, car=car, source=own,
            options=ImportOptions(file_format="auto", choices=ImportChoices(time_zone="Europe/London")),
        )  # fmt: skip
    with pytest.raises(CsvFileError, match="TeslaFi's polls.*the currency, blank-odometer rule you gave"):
        charging_sessions_import(
            user=owner, car=car, source=teslafi_file(tmp_path),
            options=ImportOptions(file_format="auto", choices=ImportChoices(currency="none", blank_odometer="skip")),
        )  # fmt: skip
    assert not car.sessions.exists()


# --- found by review: each a file or form that once went wrong -----------------------------------


def test_evccs_prices_ask_for_their_currency_through_the_admins_columns_page_too(owner_client, owner, make_car):
    from .test_presets import EVCC_DE

    car = make_car(owner)
    response = upload(owner_client, car, EVCC_DE, "evcc.csv")
    assert "are in the currency the app was set to" in response.content.decode()  # asked before the check
    response = owner_client.post(response.request["PATH_INFO"], columns_form_data(response), follow=True)
    assert "Answer this before the check." in response.content.decode()  # (left blank)
    assert not Job.objects.exists() and not car.sessions.exists()


def test_a_heading_written_twice_is_refused_not_read_from_the_wrong_column(owner, make_car, tmp_path):
    (tmp_path / "twice.csv").write_text("Date,Mileage,kWh,Cost,Type,Cost\n2026-11-02,100,10,1.00,AC,99.00\n")
    mapping = ColumnMapping(headings={"date": "Date", "odometer": "Mileage", "charge_delivered_kwh": "kWh",
                                      "total_cost_gbp": "Cost", "charge_type": "Type"})  # fmt: skip
    with pytest.raises(CsvFileError, match="has more than one column 'Cost': rename one"):
        charging_sessions_import(
            user=owner, car=make_car(owner), source=tmp_path / "twice.csv",
            options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(mapping=mapping)),
        )  # fmt: skip


def test_money_and_notes_are_never_converted_or_cut_wrongly(owner, make_car, tmp_path):
    from cars_app.models import NOTES_MAX_CHARS

    car = make_car(owner)
    long_note = "x" * (NOTES_MAX_CHARS - 10)
    text = (
        "Date;Odometer (km);Type;kWh;Cost;Notes\n"
        "02.11.2026;1000;AC;10;12,00 €;\n03.11.2026;1100;AC;10;£12;\n04.11.2026;1200;AC;10;$12;\n"
        f"25.11.2026;1300;AC;10;12,00 €;{long_note}\n"
    )  # fmt: skip
    (tmp_path / "mixed.csv").write_text(text, encoding="utf-8")
    report = charging_sessions_import(
        user=owner, car=car, source=tmp_path / "mixed.csv",
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(currency="EUR", rate="0.86")),
    )  # fmt: skip
    # £12 and $12 in a file of euros are not euros; a note and what PlugTrack says would not fit: both errors.
    assert [(issue.row, issue.field) for issue in report.errors] == [
        (3, "total_cost_gbp"), (4, "total_cost_gbp"), (5, "notes"),
    ]  # fmt: skip
    assert not car.sessions.exists()


def test_hostile_values_end_in_a_message(owner, make_car, tmp_path):
    from .test_presets import TESLAFI_POLLS, teslafi_file

    car = make_car(owner)
    (tmp_path / "far.csv").write_text("Date,Mileage,Type,kWh\n9999-12-31T23:30:00-05:00,100,AC,10\n")
    report = charging_sessions_import(
        user=owner, car=car, source=tmp_path / "far.csv",
        options=ImportOptions(file_format="spreadsheet", choices=ImportChoices(time_zone="Asia/Tokyo")),
    )  # fmt: skip
    assert [(issue.row, issue.field) for issue in report.errors] == [(2, "date")]
    polls = [TESLAFI_POLLS[1], ("9999-12-31 99:00:00", *TESLAFI_POLLS[2][1:])]
    report = charging_sessions_import(
        user=owner, car=car, source=teslafi_file(tmp_path, polls),
        options=ImportOptions(file_format="teslafi", dry_run=True),
    )  # fmt: skip
    assert [(issue.row, issue.field) for issue in report.errors] == [(3, "Date")]
    for rate in ("NaN", "sNaN", "Infinity", "0"):
        with pytest.raises(CsvFileError, match="exchange rate"):
            ImportChoices(currency="EUR", rate=rate)
    (tmp_path / "deep.json").write_text("[" * 30_000)
    with pytest.raises(CommandError, match="deep.json is not a mapping's JSON"):
        call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "deep.json"))


def test_the_admin_refuses_a_second_mapping_of_the_same_name_and_a_double_submit_makes_one_job(
    owner_client, owner, make_car
):
    mapping_profile_save(user=owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=[], name="mine")
    add = reverse("admin:sessions_app_mappingprofile_add")
    mapping = SimpleUploadedFile("mine.json", json.dumps(ODD_MAPPING).encode())
    response = owner_client.post(add, {"name": "mine", "json_file": mapping})
    assert "has a saved mapping &quot;mine&quot; already: choose another name" in response.content.decode()
    deep = owner_client.post(add, {"name": "deep", "json_file": SimpleUploadedFile("deep.json", b"[" * 30_000)})
    assert "nested too deep" in deep.content.decode() and MappingProfile.objects.count() == 1
    car = make_car(owner)
    response = upload(owner_client, car, ODD)
    chosen = columns_form_data(response, column_date="When", column_charge_delivered_kwh="Juice",
                               charge_type_fixed="AC")  # fmt: skip
    first = owner_client.post(response.request["PATH_INFO"], chosen)
    assert first.status_code == 302 and Job.objects.count() == 1
    again = owner_client.post(response.request["PATH_INFO"], chosen, follow=True)
    assert "no longer here" in again.content.decode() and Job.objects.count() == 1


def test_mapping_profiles_refuses_options_that_would_do_nothing(owner):
    with pytest.raises(CommandError, match="--to goes with --export") as refused:
        call_command("mapping_profiles", "--user", "alice", "--to", "out.json")
    assert refused.value.returncode == 2

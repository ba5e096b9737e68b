"""Column mappings in the admin as a form (issue 22, point 3): a row per PlugTrack field, labelled in
people's words, with a select of the file's headings (typed when the mapping has none) and the unit;
what it saves is what the mapping's JSON would save, and JSON stays the download and upload format."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from sessions_app.imports.formats.mapping import ColumnMapping
from sessions_app.imports.mapping_profiles import mapping_profile_export, mapping_profile_save
from sessions_app.models import MappingProfile

from .formats.test_mappings import ODD, ODD_MAPPING
from .test_admin_questions import no_option

ADD = "admin:sessions_app_mappingprofile_add"
HEADER = ODD.splitlines()[0].split(";")  # When;Odo;Juice;Took;Pence per unit;What
# ODD_MAPPING as the form's rows
ROWS = {
    "column_date": "When", "column_odometer": "Odo", "unit_odometer": "km", "column_charge_delivered_kwh": "Juice",
    "unit_charge_delivered_kwh": "wh", "column_duration_mins": "Took", "unit_duration_mins": "hms",
    "column_cost_per_kwh": "Pence per unit", "unit_cost_per_kwh": "pence", "column_notes": "What",
    "charge_type_fixed": "AC",
}  # fmt: skip


def change_url(profile) -> str:
    return reverse("admin:sessions_app_mappingprofile_change", args=[profile.pk])


def test_a_mapping_added_as_a_form_saves_what_its_json_imported_would(owner_client, owner, tmp_path):
    page = owner_client.get(reverse(ADD))
    text = no_option(page)
    assert "energy (kWh)" in text and "odometer (miles)" in text and "headings of the file" in text
    assert "null" not in text and "plugtrack_mapping" not in text  # no JSON to type
    response = owner_client.post(reverse(ADD), {"name": "notes app", "headings": "\n".join(HEADER)} | ROWS)
    assert response.status_code == 302
    typed = MappingProfile.objects.get(name="notes app")
    (tmp_path / "notes.json").write_text(json.dumps(ODD_MAPPING | {"header": HEADER}))
    call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "notes.json"), "--name", "by file")
    imported = MappingProfile.objects.get(name="by file")
    assert typed.mapping == imported.mapping | {"name": "notes app"} and typed.header == imported.header == HEADER
    assert typed.header_key == imported.header_key  # offered for the same files
    assert mapping_profile_export(typed)["columns"] == ODD_MAPPING["columns"]


def test_a_saved_mappings_page_offers_its_files_headings_and_saves_a_change(owner_client, owner):
    mine = mapping_profile_save(user=owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=HEADER, name="mine")
    page = owner_client.get(change_url(mine))
    form = page.context["adminform"].form
    assert form["column_odometer"].value() == "Odo" and form["unit_odometer"].value() == "km"
    assert [label for _, label in form.fields["column_date"].choices] == ["— not in the file —", *HEADER]
    assert "Offered for files with the headings: When, Odo, Juice, Took, Pence per unit, What." in no_option(page)
    data = {"name": "mine"} | ROWS | {"unit_odometer": "miles", "column_notes": ""}
    assert owner_client.post(change_url(mine), data).status_code == 302
    mine.refresh_from_db()
    assert mine.mapping["columns"]["odometer"] == "Odo" and "notes" not in mine.mapping["columns"]
    assert mine.header == HEADER
    refused = owner_client.post(change_url(mine), data | {"column_date": "Mileage"})  # not one of its headings
    assert "Select a valid choice" in " ".join(refused.context["adminform"].form.errors["column_date"])


def test_the_form_refuses_a_mapping_an_import_could_not_use(owner_client, owner):
    def refusal(**changes) -> str:
        response = owner_client.post(reverse(ADD), {"name": "x", "headings": "\n".join(HEADER)} | ROWS | changes)
        return " ".join(response.context["adminform"].form.non_field_errors())

    assert "Choose the column of the date, which every session needs" in refusal(column_date="")
    assert "The headings of the file have no 'Mileage'" in refusal(column_odometer="Mileage")
    assert "say what every session is (AC at a home wallbox)" in refusal(charge_type_fixed="")
    long = "W" * 201
    assert "is 201 characters long; a file's heading is at most 200" in refusal(column_notes=long, headings=long)
    assert "501 headings" in refusal(headings="\n".join(f"c{number}" for number in range(501)))
    assert not MappingProfile.objects.exists()


def test_a_json_file_uploaded_replaces_the_rows(owner_client, owner):
    mine = mapping_profile_save(user=owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=HEADER, name="mine")
    columns = {"date": "Day", "odometer": "Miles", "charge_delivered_kwh": "kWh", "charge_type": {"value": "DC"}}
    other = {"plugtrack_mapping": 1, "columns": columns, "header": ["Day", "Miles", "kWh"]}
    uploaded = SimpleUploadedFile("other.json", json.dumps(other).encode())
    assert owner_client.post(change_url(mine), {"name": "mine", "json_file": uploaded}).status_code == 302
    mine.refresh_from_db()
    assert mine.mapping["columns"] == other["columns"] and mine.header == ["Day", "Miles", "kWh"]
    assert mine.mapping["name"] == "mine"

"""A mapping's JSON within bounds (issue 20, point 8): whichever way it comes in (the admin's Column
mappings form, its rows or a JSON file uploaded, `mapping_profiles --import`, the columns page's "save
as", ColumnMapping.from_json itself), a huge number, NaN, a text PostgreSQL cannot store, deep
nesting, an overlong heading or too many of them is refused with a message, never a 500 or a
traceback, and nothing is saved. A profile stored before these checks that breaks them is shown, with
what to do, not a 500."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.formats.mapping import ColumnMapping
from sessions_app.imports.mapping_profiles import mapping_profile_save
from sessions_app.models import MappingProfile

from .test_mappings import ODD, ODD_MAPPING, columns_form_data, upload

ADD = "admin:sessions_app_mappingprofile_add"
CHANGELIST = "admin:sessions_app_mappingprofile_changelist"


def with_value(value: str) -> str:
    """ODD_MAPPING's text with `value` (JSON text) as every session's charge type."""
    return json.dumps(ODD_MAPPING).replace('{"value": "AC"}', f'{{"value": {value}}}')


def with_heading(heading: str) -> str:
    """ODD_MAPPING's text with `heading` (JSON text) as the date's column."""
    return json.dumps(ODD_MAPPING).replace('"date": "When"', f'"date": {heading}')


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep(depth: int) -> list:
    """nested(depth), as data (built without recursion)."""
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


GOOD = json.dumps(ODD_MAPPING)
# (mapping's text, header's text, what the refusal says)
HOSTILE = {
    "65 KB": (json.dumps(ODD_MAPPING | {"name": "x" * 65 * 1024}), "[]", "larger than a mapping can be (64 KB)"),
    "a 5,000-digit number": (with_value("1" * 5000), "[]", "holds the number 11111111111111111111111…"),
    "a number too large for a float": (with_value("1e999"), "[]", "holds the number 1e999, larger than any"),
    "NaN": (with_value("NaN"), "[]", "holds NaN, which is not a number JSON allows"),
    "Infinity": (with_value("Infinity"), "[]", "holds Infinity, which is not a number JSON allows"),
    "-Infinity": (with_value("-Infinity"), "[]", "holds -Infinity, which is not a number JSON allows"),
    "half a character": (with_heading('"W\\ud800"'), "[]", "holds \\ud800 (at columns → date), half of a character"),
    "NUL": (with_heading('"W\\u0000"'), "[]", "holds a NUL character (\\u0000) (at columns → date)"),
    "a NUL in a key": (GOOD.replace('"name"', '"na\\u0000me"'), "[]", "holds a NUL character"),
    "900 deep": (GOOD[:-1] + f', "junk": {nested(900)}}}', "[]", "nested too deep"),
    "11 deep": (GOOD[:-1] + f', "junk": {nested(10)}}}', "[]", "nested too deep: more than 10 levels"),
    "a heading of 201 characters": (with_heading(json.dumps("W" * 201)), "[]", "is 201 characters long; a file"),
    "more columns than fields": (
        json.dumps(ODD_MAPPING | {"columns": {f"c{number}": "x" for number in range(15)}}), "[]",
        '"columns" has 15 entries; PlugTrack has 14 fields',
    ),
    "headings: 501": (GOOD, json.dumps([f"c{number}" for number in range(501)]), "501 headings; PlugTrack reads"),
    "headings: not text": (GOOD, "[1, 2]", "must hold the file's headings, each as text"),
    "headings: not a list": (GOOD, '{"Date": 1}', "must hold the file's headings, each as text"),
    "headings: one of 201 characters": (GOOD, json.dumps(["W" * 201]), "is 201 characters long; a file"),
    "headings: half a character": (GOOD, '["W\\udfff"]', "holds \\udfff (at "),
    "headings: NUL": (GOOD, '["W\\u0000"]', "holds a NUL character"),
    "headings: NaN": (GOOD, "[NaN]", "holds NaN"),
    "headings: 65 KB": (GOOD, json.dumps(["W" * 100] * 660), "larger than a mapping can be (64 KB)"),
    "headings: 900 deep": (GOOD, nested(900), "nested too deep"),
}  # fmt: skip


def json_file(mapping: str, header: str = "[]") -> SimpleUploadedFile:
    """A mapping's JSON file as `mapping_profiles --export` writes one: the mapping, with its header."""
    return SimpleUploadedFile("m.json", f'{mapping[:-1]}, "header": {header}}}'.encode())


def field_errors(response) -> dict[str, str]:
    assert response.status_code == 200
    response.content.decode()  # the page itself carries what was typed (no half characters)
    return {name: " ".join(errors) for name, errors in response.context["adminform"].form.errors.items()}


@pytest.mark.parametrize("case", HOSTILE)
def test_the_admin_refuses_each_hostile_mapping_with_a_field_error(owner_client, owner, case):
    mapping, header, message = HOSTILE[case]
    added = field_errors(owner_client.post(reverse(ADD), {"name": "new", "json_file": json_file(mapping, header)}))
    assert message in added["json_file"] and not MappingProfile.objects.exists()
    mine = mapping_profile_save(user=owner, mapping=ColumnMapping.from_json(ODD_MAPPING), header=["When"], name="mine")
    change = reverse("admin:sessions_app_mappingprofile_change", args=[mine.pk])
    changed = field_errors(owner_client.post(change, {"name": "mine", "json_file": json_file(mapping, header)}))
    assert message in changed["json_file"]
    kept = MappingProfile.objects.get()
    assert (kept.mapping, kept.header) == (mine.mapping, ["When"])


@pytest.mark.parametrize("case", HOSTILE)
def test_mapping_profiles_import_refuses_each_hostile_file_with_exit_2(owner, tmp_path, case):
    mapping, header, message = HOSTILE[case]
    (tmp_path / "m.json").write_text(f'{mapping[:-1]}, "header": {header}}}', encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape(message)) as no:
        call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "m.json"))
    assert no.value.returncode == 2 and "\n" not in str(no.value) and not MappingProfile.objects.exists()


@pytest.mark.parametrize("case", ["65 KB", "a 5,000-digit number", "NaN", "half a character", "900 deep"])
def test_sessions_import_refuses_a_hostile_mapping_file_too(owner, make_car, tmp_path, case):
    car = make_car(owner)
    (tmp_path / "log.csv").write_text(ODD, encoding="utf-8")
    (tmp_path / "m.json").write_text(HOSTILE[case][0], encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape(HOSTILE[case][2])) as no:
        call_command("sessions_import", "--from", str(tmp_path / "log.csv"), "--mapping", str(tmp_path / "m.json"))
    assert no.value.returncode == 2 and not car.sessions.exists()


def test_the_form_and_the_command_take_a_mapping_just_under_the_cap(owner_client, owner, tmp_path):
    text = json.dumps(ODD_MAPPING | {"name": "x" * 60 * 1024})
    response = owner_client.post(reverse(ADD), {"name": "big", "json_file": json_file(text)})
    assert response.status_code == 302 and MappingProfile.objects.get().name == "big"
    (tmp_path / "big.json").write_text(text, encoding="utf-8")
    call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "big.json"), "--name", "big too")
    assert MappingProfile.objects.count() == 2


def test_the_admin_refuses_a_name_it_cannot_store_or_too_long(owner_client):
    for name, message in [("a\x00b", "Null characters are not allowed"), ("x" * 81, "at most 80 characters")]:
        errors = field_errors(owner_client.post(reverse(ADD), {"name": name, "json_file": json_file(GOOD)}))
        assert message in errors["name"]
    assert not MappingProfile.objects.exists()


def test_a_name_given_to_the_command_that_cannot_be_stored_is_refused(owner, tmp_path):
    (tmp_path / "m.json").write_text(GOOD, encoding="utf-8")
    # (an argument of bytes that are not UTF-8 arrives as lone surrogates: "\udcff")
    with pytest.raises(CommandError, match=r"holds \\udcff \(at name\), half of a character") as no:
        call_command("mapping_profiles", "--user", "alice", "--import", str(tmp_path / "m.json"), "--name", "a\udcff")
    assert no.value.returncode == 2 and not MappingProfile.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (ODD_MAPPING | {"name": float("nan")}, "holds a number nan (at name)"),
        (ODD_MAPPING | {"name": 10**40}, "holds a number about 40 digits long (at name)"),
        (ODD_MAPPING | {"name": "a\x00b"}, "holds a NUL character"),
        (ODD_MAPPING | {"name": "a\ud800b"}, "half of a character"),
        (ODD_MAPPING | {"junk": deep(3000)}, "nested too deep"),
        (ODD_MAPPING | {"columns": {"date": "W" * 201}}, "is 201 characters long"),
    ],
)  # fmt: skip
def test_from_json_keeps_the_same_bounds_for_data_from_anywhere(data, message):
    with pytest.raises(CsvFileError, match=re.escape(message)):
        ColumnMapping.from_json(data)


# --- the import's columns page: "save as" -------------------------------------------------------


def test_the_columns_page_refuses_a_save_as_name_or_headings_it_cannot_store(owner_client, owner, make_car):
    car = make_car(owner)
    long_heading = "What " + "x" * 300  # a file may have such a heading; a saved mapping's are at most 200
    response = upload(owner_client, car, ODD.replace("What", long_heading))
    chosen = columns_form_data(response, column_date="When", column_odometer="Odo", unit_odometer="km",
                               column_charge_delivered_kwh="Juice", unit_charge_delivered_kwh="wh",
                               charge_type_fixed="AC")  # fmt: skip
    columns_url = response.request["PATH_INFO"]
    refused = owner_client.post(columns_url, chosen | {"save_as": "a\x00b"})
    assert "Null characters are not allowed" in " ".join(refused.context["form"].errors["save_as"])
    refused = owner_client.post(columns_url, chosen | {"save_as": "notes app"})
    errors = " ".join(refused.context["form"].errors["save_as"])
    assert "is 305 characters long; a file's heading is at most 200" in errors
    assert "Leave the name blank to import without saving it" in errors
    assert not MappingProfile.objects.exists() and not car.sessions.exists()
    assert owner_client.post(columns_url, chosen).status_code == 302  # unsaved, the file is read as it is


# --- profiles stored before the checks ----------------------------------------------------------


def stored(owner, mapping: dict | None = None, header: list | None = None) -> MappingProfile:
    """A profile written as the ORM would have before the checks (SQLite took these)."""
    return MappingProfile.objects.create(user=owner, name="old", mapping=mapping or ODD_MAPPING, header=header or [])


BROKEN = {
    "900 deep": (lambda: (ODD_MAPPING | {"junk": deep(900)}, None), "nested too deep"),
    "half a character": (
        lambda: (ODD_MAPPING | {"columns": ODD_MAPPING["columns"] | {"date": "W\ud800"}}, None), "half of a character",
    ),
    "headings: half a character": (lambda: (None, ["W\ud800"]), "half of a character"),
    "NUL": (lambda: (ODD_MAPPING | {"name": "a\x00b"}, None), "holds a NUL character"),
}  # fmt: skip
# PostgreSQL refuses these itself (its jsonb has no lone surrogates, no NUL): none can be stored there.
NOT_ON_POSTGRESQL = {"half a character", "headings: half a character", "NUL"}


@pytest.mark.parametrize("case", BROKEN)
def test_a_profile_stored_before_the_checks_is_shown_to_be_replaced_not_a_500(owner_client, owner, tmp_path, case):
    if connection.vendor == "postgresql" and case in NOT_ON_POSTGRESQL:
        pytest.skip("PostgreSQL cannot store it")
    make, message = BROKEN[case]
    mapping, header = make()
    profile = stored(owner, mapping, header)
    listed = owner_client.get(reverse(CHANGELIST))
    assert (
        listed.status_code == 200 and "(cannot be used: open it to see why, and replace it)" in listed.content.decode()
    )
    change = reverse("admin:sessions_app_mappingprofile_change", args=[profile.pk])
    shown = owner_client.get(change)
    warnings = [str(message) for message in shown.context["messages"]]
    assert shown.status_code == 200 and shown.content.decode()
    assert any(message in warning and "Replace it with one that works" in warning for warning in warnings)
    # Downloaded, exported, or offered for its file, it is refused with the same message.
    refused = owner_client.post(reverse(CHANGELIST), {"action": "download_json", "_selected_action": [profile.pk]})
    assert refused.status_code == 302
    with pytest.raises(CommandError, match=message) as no:
        call_command("mapping_profiles", "--user", "alice", "--export", "old", "--to", str(tmp_path / "old.json"))
    assert no.value.returncode == 2 and not (tmp_path / "old.json").exists()
    # Replaced in its form, it works again.
    replaced = owner_client.post(change, {"name": "old", "json_file": json_file(GOOD, '["When"]')})
    assert replaced.status_code == 302
    profile.refresh_from_db()
    assert (profile.mapping, profile.header) == (ODD_MAPPING | {"name": "old"}, ["When"])
    assert "cannot be used" not in owner_client.get(reverse(CHANGELIST)).content.decode()

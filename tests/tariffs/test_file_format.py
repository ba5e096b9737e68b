"""The tariff file: the issue's example imports, exports and imports back unchanged; hostile files are
refused whole with every problem named where it is, and nothing is written."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tariffs.file_format import MAX_DEPTH, MAX_FILE_BYTES, TariffFileError
from tariffs.models import Assignment, Band, HalfHourPrice, Tariff
from tariffs.selectors import tariffs_export
from tariffs.services import tariffs_import

pytestmark = pytest.mark.django_db

EXAMPLE = {
    "plugtrack_tariffs": 1,
    "tariffs": [{
        "name": "Intelligent Octopus Go", "time_zone": "Europe/London",
        "versions": [{"valid_from": "2026-01-01", "default_p_per_kwh": "28.00", "standing_p_per_day": "45.00",
                      "bands": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "23:30",
                                 "end": "05:30", "p_per_kwh": "7.00"}]}],
        "prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:30:00Z", "p_per_kwh": "10.50"}],
    }],
    "assignments": [{"tariff": "Intelligent Octopus Go", "car": None, "where": "home", "location": None,
                     "valid_from": "2026-01-01"}],
}  # fmt: skip


def imported(user, data, source="tariffs.json"):
    return tariffs_import(user=user, data=json.dumps(data).encode() if not isinstance(data, bytes) else data,
                          source=source)  # fmt: skip


def refusal(user, data) -> str:
    with pytest.raises(TariffFileError) as refused:
        imported(user, data)
    return str(refused.value)


def test_the_issues_example_imports_and_exports_back_unchanged(owner):
    done = imported(owner, EXAMPLE)
    assert (done.tariffs_added, done.prices, done.assignments) == (1, 1, 1)
    band = Band.objects.get()
    assert (band.start, band.end, band.p_per_kwh, band.days) == (dt.time(23, 30), dt.time(5, 30), Decimal(7), 127)
    assert Assignment.objects.get().where == "home"
    exported = tariffs_export(user=owner)
    assert exported == EXAMPLE | {"tariffs": [EXAMPLE["tariffs"][0] | {"versions": exported["tariffs"][0]["versions"]}]}
    assert exported["tariffs"][0]["versions"] == EXAMPLE["tariffs"][0]["versions"]

    again = imported(owner, exported)  # the same file again: replaced, nothing added
    assert (again.tariffs_added, again.tariffs_replaced, again.prices) == (0, 1, 0)
    assert tariffs_export(user=owner) == exported
    assert (Tariff.objects.count(), Band.objects.count(), HalfHourPrice.objects.count()) == (1, 1, 1)


def test_a_file_with_a_mistake_changes_nothing_and_names_every_problem(owner):
    imported(owner, EXAMPLE)
    before = tariffs_export(user=owner)
    broken = json.loads(json.dumps(EXAMPLE))
    version = broken["tariffs"][0]["versions"][0]
    version["bands"].append({"days": ["fri"], "start": "22:00", "end": "00:30", "p_per_kwh": "9"})
    version["default_p_per_kwh"] = "2800"
    broken["tariffs"][0]["prices"][0]["start"] = "2026-03-01 00:00"
    broken["assignments"][0]["car"] = "Tesla"
    broken["assignments"].append({"tariff": "Nope", "valid_from": "2026-02-30", "colour": "red"})
    message = refusal(owner, broken)
    assert "nothing was changed" in message
    for said in [
        "tariffs[0].versions[0].default_p_per_kwh: 2800 is not between 0 and 500.",
        "tariffs[0].versions[0].bands: Friday 23:30–05:30 overlaps Friday 22:00–00:30",
        "tariffs[0].prices[0].start: “2026-03-01 00:00” is not a time with its offset",
        "assignments[1]: unknown key “colour”",
        "assignments[1].valid_from: “2026-02-30” is not a date",
    ]:
        assert said in message, message
    assert tariffs_export(user=owner) == before

    # The file's own problems first; then those against the account (a car, a tariff), also before any write.
    broken = json.loads(json.dumps(EXAMPLE))
    broken["assignments"] += [{"tariff": "Intelligent Octopus Go", "car": "Tesla", "valid_from": "2026-01-01"},
                              {"tariff": "Nope", "valid_from": "2026-01-01"}]  # fmt: skip
    message = refusal(owner, broken)
    assert "assignments[1].car: “Tesla” is not one of your cars (none yet)." in message
    assert "assignments[2].tariff: “Nope” is neither in the file nor one of your tariffs." in message
    assert tariffs_export(user=owner) == before


@pytest.mark.parametrize(
    "data, said",
    [
        (b"\xff\xfe{}", "it is not UTF-8 text."),
        (b"{\"plugtrack_tariffs\": 1, ", "it is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (json.dumps({"plugtrack_tariffs": 1, "tariffs": [{"name": "x", "versions": [{"a": [[[[[[[]]]]]]]}]}]}).encode(),
         f"at most {MAX_DEPTH}"),
        (b"{\"plugtrack_tariffs\": 2, \"tariffs\": []}", "reads version 1 of the tariff file"),
        (b"{\"tariffs\": []}", "“plugtrack_tariffs” is missing."),
        (b"[]", "should be an object"),
        (b"{\"plugtrack_tariffs\": 1, \"tariffs\": {}}", "tariffs: should be a list"),
        (b" " * (MAX_FILE_BYTES + 1), "larger than a tariff file may be"),
        (b"{\"plugtrack_tariffs\": 1, \"tariffs\": [{\"name\": \"Go\", \"name\": \"Agile\"}]}",
         "the key “name” is given twice in one object"),
        (b"{\"plugtrack_tariffs\": 1, \"tariffs\": [], \"assignments\": [], \"assignments\": []}",
         "the key “assignments” is given twice"),
    ],
)  # fmt: skip
def test_hostile_files_are_refused(owner, data, said):
    assert said in refusal(owner, data)
    assert not Tariff.objects.exists()


@pytest.mark.parametrize(
    "change, said",
    [
        ({"name": "x" * 81}, "tariffs[0].name: is longer than 80 characters."),
        ({"name": "  "}, "tariffs[0].name: is empty."),
        ({"time_zone": "Mars/Olympus"}, "“Mars/Olympus” is not a time zone"),
        ({"time_zone": "../../etc/passwd"}, "is not a time zone"),
        ({"prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:30:00Z", "p_per_kwh": "NaN"}]},
         "“NaN” is not a price"),
        ({"prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:30:00Z", "p_per_kwh": "1" * 5000}]},
         "is not a price"),
        ({"prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:30:00Z", "p_per_kwh": 1e400}]},
         "is not a price"),
        ({"prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:00:00Z", "p_per_kwh": "5"}]},
         "its end should be after its start"),
        ({"prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T01:00:00Z", "p_per_kwh": "5"},
                     {"start": "2026-03-01T00:30:00Z", "end": "2026-03-01T01:30:00Z", "p_per_kwh": "5"}]},
         "the price from 2026-03-01T00:30Z overlaps the one from 2026-03-01T00:00Z"),
        ({"prices": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:30:00Z", "p_per_kwh": "-150"}]},
         "-150 is not between -100 and 500"),
        ({"versions": [{"valid_from": "2026-01-01", "default_p_per_kwh": "28",
                        "bands": [{"days": ["fri", "funday"], "start": "24:00", "end": "5", "p_per_kwh": "7"}]}]},
         "“funday” is not one of mon, tue, wed, thu, fri, sat, sun"),
        ({"versions": [{"valid_from": "2026-01-01", "default_p_per_kwh": "28",
                        "bands": [{"days": [], "start": "24:00", "end": "05:00", "p_per_kwh": "7"}]}]},
         "“24:00” is not a time of day"),
        ({"versions": [{"valid_from": "2026-01-01", "default_p_per_kwh": "28"},
                       {"valid_from": "2026-01-01", "default_p_per_kwh": "29"}]},
         "two versions are valid from 2026-01-01"),
        ({"octopus": {"product": "agile; drop table", "region": "Z"}}, "is not an Octopus product code"),
    ],
)  # fmt: skip
def test_hostile_values_are_refused_where_they_are(owner, change, said):
    data = json.loads(json.dumps(EXAMPLE))
    data["tariffs"][0] |= change
    assert said in refusal(owner, data)
    assert not Tariff.objects.exists()


def test_too_many_items_are_refused(owner):
    data = json.loads(json.dumps(EXAMPLE))
    data["tariffs"][0]["versions"][0]["bands"] = [{"days": ["mon"], "start": f"{hour:02}:00", "end": f"{hour:02}:30",
                                                    "p_per_kwh": "1"} for hour in range(24)] * 3  # fmt: skip
    assert "has 72 items; at most 48 are allowed." in refusal(owner, data)


def test_the_commands_import_and_export(owner, make_car, tmp_path):
    make_car(owner, name="Niro")
    data = json.loads(json.dumps(EXAMPLE))
    data["assignments"][0]["car"] = "niro"
    source = tmp_path / "tariffs.json"
    source.write_text(json.dumps(data))
    out = StringIO()
    call_command("tariffs_import", "--from", str(source), stdout=out)
    assert "Imported 1 new tariff(s), replaced 0, stored 1 half-hourly price(s) and 1 assignment(s)." in out.getvalue()
    assert Assignment.objects.get().car.name == "Niro"

    call_command("tariffs_export", "--to", str(tmp_path / "out.json"), stdout=StringIO())
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["assignments"][0]["car"] == "Niro" and written["tariffs"] == EXAMPLE["tariffs"]

    source.write_text('{"plugtrack_tariffs": 1, "tariffs": [{"name": 5}]}')
    with pytest.raises(CommandError, match=r"tariffs\[0\].name: should be text, not a number.") as refused:
        call_command("tariffs_import", "--from", str(source), stdout=StringIO())
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="There is no file"):
        call_command("tariffs_import", "--from", str(tmp_path / "missing.json"), stdout=StringIO())

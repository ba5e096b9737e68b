import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_app.models import ChargingSession

from ..csv_helpers import read_csv, session_row, write_csv


@pytest.fixture
def car(owner, make_car):
    return make_car(owner, name="Niro")


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_prints_the_summary_table_and_exits_zero(car, tmp_path, caplog):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="1100")])
    caplog.set_level("INFO", logger="plugtrack")
    output = run("sessions_import", "--from", str(path))
    assert "Import of may.csv into Niro" in output
    assert "inserted            2" in output
    assert ChargingSession.objects.count() == 2
    assert "sessions_import user=alice" in caplog.text and "inserted=2 duplicates=0 errors=0" in caplog.text


def test_importing_again_is_all_duplicates_and_still_success(car, tmp_path):
    path = write_csv(tmp_path, [session_row()])
    run("sessions_import", "--from", str(path))
    assert "duplicates          1" in run("sessions_import", "--from", str(path))


def test_json_output_is_the_report_alone(car, tmp_path):
    path = write_csv(tmp_path, [session_row()])
    report = json.loads(run("sessions_import", "--from", str(path), "--json", "--dry-run"))
    assert report["ok"] is True and report["inserted"] == 1 and report["dry_run"] is True
    assert not ChargingSession.objects.exists()


def test_invalid_rows_exit_1_write_nothing_and_name_the_error_file(car, tmp_path):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="1,100")])
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 row\(s\) failed validation.") as raised:
        call_command("sessions_import", "--from", str(path), stdout=out)
    assert raised.value.returncode == 1
    assert 'row 3, odometer: "1,100" is not a whole number.' in out.getvalue()
    assert f"All errors and warnings are listed in {tmp_path / 'may.err.csv'}" in out.getvalue()
    assert not ChargingSession.objects.exists()
    assert read_csv(tmp_path / "may.err.csv")[0]["row"] == "3"


def test_allow_partial_writes_the_valid_rows_but_still_exits_1(car, tmp_path):
    path = write_csv(tmp_path, [session_row(), session_row(odometer="x")])
    with pytest.raises(CommandError) as raised:
        call_command("sessions_import", "--from", str(path), "--allow-partial", stdout=StringIO())
    assert raised.value.returncode == 1
    assert ChargingSession.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No file at"),
        ("", "is empty"),
        ("date,odometer\n2025-01-01,5\n", "missing column"),
    ],
)
def test_file_level_errors_exit_2_with_one_line(car, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError, match=message) as raised:
        call_command("sessions_import", "--from", str(path), stdout=StringIO())
    assert raised.value.returncode == 2
    assert "\n" not in str(raised.value)


def test_user_and_car_may_be_left_out_only_when_there_is_one(owner, other_owner, make_car, tmp_path):
    path = write_csv(tmp_path, [session_row()])
    with pytest.raises(CommandError, match="several users: give --user USERNAME. Users: alice, bob") as raised:
        call_command("sessions_import", "--from", str(path))
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="alice has no cars yet"):
        call_command("sessions_import", "--from", str(path), "--user", "alice")
    first, second = make_car(owner, name="Niro"), make_car(owner, name="Zoe", make="Renault", model="Zoe")
    with pytest.raises(CommandError, match=f'several cars.*{first.pk} = "Niro".*{second.pk} = "Zoe".*--car ID'):
        call_command("sessions_import", "--from", str(path), "--user", "alice")
    theirs = make_car(other_owner, name="Theirs")
    with pytest.raises(CommandError, match=f"alice has no car with id {theirs.pk}"):
        call_command("sessions_import", "--from", str(path), "--user", "alice", "--car", str(theirs.pk))
    run("sessions_import", "--from", str(path), "--user", "alice", "--car", str(second.pk))
    assert list(ChargingSession.objects.values_list("car__name", flat=True)) == ["Zoe"]


def test_export_command_writes_the_file(car, make_session, tmp_path):
    make_session(car, "2025-01-01", 100)
    make_session(car, "2025-02-01", 200)
    output = run("sessions_export", "--to", str(tmp_path / "out.csv"), "--date-from", "2025-01-15")
    assert "Exported 1 session(s) of Niro" in output
    assert [row["odometer"] for row in read_csv(tmp_path / "out.csv")] == ["200"]


def test_export_command_refuses_a_bad_date(car, tmp_path):
    with pytest.raises(CommandError, match='"15/01/2025" is not a date in the form YYYY-MM-DD.') as raised:
        call_command("sessions_export", "--to", str(tmp_path / "out.csv"), "--date-to", "15/01/2025")
    assert raised.value.returncode == 2


def test_json_output_of_a_refused_file_is_json_too(car, tmp_path):
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sessions_import", "--from", str(tmp_path / "nope.csv"), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"ok": False, "error": f"No file at {tmp_path / 'nope.csv'}."}


def test_a_user_without_cars_is_told_to_add_one_not_to_pick_one(owner, tmp_path):
    with pytest.raises(CommandError) as raised:
        call_command("sessions_import", "--from", str(tmp_path / "x.csv"))
    assert str(raised.value) == "alice has no cars yet: add one in the admin (Cars) first."


def test_export_dates_follow_the_csv_date_rule(car, tmp_path):
    with pytest.raises(CommandError, match='"20250101" is not a date in the form YYYY-MM-DD'):
        call_command("sessions_export", "--to", str(tmp_path / "out.csv"), "--date-from", "20250101")

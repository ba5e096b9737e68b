"""The admin's Import page runs the command's import service (checked, then confirmed) and its
Export button the same resource; both scoped to the user's own cars."""

import csv
import datetime as dt
import io
import re
from pathlib import Path

import psycopg
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.models import Job
from sessions_app.imports.csv_format import HEADER
from sessions_app.imports.csv_io import charging_sessions_export, charging_sessions_import
from sessions_app.models import ChargingSession

from ..csv_helpers import session_row, write_csv

IMPORT = "admin:sessions_app_chargingsession_import"
EXPORT = "admin:sessions_app_chargingsession_export"


def upload(rows: list[dict], name: str = "may.csv") -> SimpleUploadedFile:
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    writer.writerows([row[column] for column in HEADER] for row in rows)
    return SimpleUploadedFile(name, stream.getvalue().encode(), content_type="text/csv")


def preview(client, car, rows):
    """Upload a file for `car`; the job page its check lands on (jobs run at once in tests)."""
    return client.post(reverse(IMPORT), {"car": car.pk, "import_file": upload(rows)}, follow=True)


def post_file(client, car, content: bytes, name: str = "x.csv"):
    return client.post(reverse(IMPORT), {"car": car.pk, "import_file": SimpleUploadedFile(name, content)}, follow=True)


def report_of(response) -> dict:
    return response.context["job"].report


def confirm(client, response, **choices):
    return client.post(response.context["confirm_url"], choices, follow=True)


def test_the_import_form_offers_only_the_users_own_cars(owner_client, owner, other_owner, make_car):
    make_car(owner, name="Mine")
    make_car(other_owner, name="Theirs")
    html = owner_client.get(reverse(IMPORT)).content.decode()
    assert "Mine" in html and "Theirs" not in html


def test_the_check_shows_what_would_happen_then_confirm_writes(owner_client, owner, make_car, make_session):
    car = make_car(owner, name="Mine")
    make_session(car, "2025-03-01", 1000, "30.5")
    response = preview(owner_client, car, [session_row(), session_row(odometer="1100", date="2025-03-05")])

    html = response.content.decode()
    assert "What importing may.csv into Mine would do" in html and "(nothing has been written yet)" in html
    assert '<tr><th>new</th><td id="pt-new">1</td></tr>' in html
    assert "<tr><th>already stored (skipped)</th><td>1</td></tr>" in html
    assert "<td>3</td><td>2025-03-05</td><td>1100</td><td>AC</td><td>30.5</td><td>Home</td>" in html  # first new rows
    assert ChargingSession.objects.count() == 1  # the check writes nothing
    response = confirm(owner_client, response)

    assert "Imported 1 session(s) into Mine; 1 were already there." in response.content.decode()
    assert list(car.sessions.order_by("odometer").values_list("odometer", "is_baseline")) == [
        (1000, True),
        (1100, False),
    ]
    job = Job.objects.get()
    assert (job.status, job.phase) == (Job.Status.DONE, Job.Phase.RUN) and not Path(job.upload).exists()


def test_rows_with_errors_are_listed_and_the_valid_ones_may_be_imported_alone(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    rows = [session_row(notes="two\nlines"), session_row(odometer="12,5", date="2025-03-02")]
    response = preview(owner_client, car, rows)
    html = response.content.decode()
    assert "<td>4</td><td>odometer (miles)</td><td>12,5</td><td>&quot;12,5&quot; is not a whole number.</td>" in html
    assert 'value="Import the 1 valid rows"' in html
    assert not ChargingSession.objects.exists()

    response = confirm(owner_client, response, allow_partial="on")
    assert "Imported 1 session(s) into Mine; 0 were already there; 1 row(s) with errors were left out." in (
        response.content.decode()
    )
    assert list(car.sessions.values_list("odometer", flat=True)) == [1000]


def test_a_wrong_header_is_reported_and_nothing_can_be_confirmed(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    response = post_file(owner_client, car, b"date,odometer,\n2025-01-01,5,\n")
    html = response.content.decode()
    assert "x.csv: the header has missing column(s): charge_type" in html
    assert "unknown column(s): &#x27;&#x27;" in html
    assert Job.objects.get().status == Job.Status.FAILED and "Confirm" not in html
    assert not ChargingSession.objects.exists()


def test_a_row_with_a_wrong_number_of_cells_is_an_invalid_row_named_by_its_line(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    lines = ",".join(HEADER) + "\n" + "2025-01-01,1,AC,,Home,,5,,,,,,,\n" + "2025-01-02,2,AC,,Home,,5\n"
    errors = report_of(post_file(owner_client, car, lines.encode()))["errors"]
    assert [(issue["row"], issue["column"], issue["message"]) for issue in errors] == [
        (3, "the whole row", "has 7 cells but the header has 14; a value containing a comma must be in double quotes.")
    ]


def test_a_file_of_only_the_header_says_so_and_offers_nothing_to_confirm(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    response = post_file(owner_client, car, (",".join(HEADER) + "\r\n\r\n").encode())
    assert "x.csv has the header but no sessions: nothing to import." in response.content.decode()
    assert response.context["job"].status == Job.Status.DONE


def test_a_file_of_only_stored_sessions_offers_nothing_to_confirm(owner_client, owner, make_car, make_session):
    car = make_car(owner, name="Mine")
    make_session(car, "2025-03-01", 1000, "30.5")
    response = preview(owner_client, car, [session_row()])
    assert "Every session in this file is stored already: there is nothing to import." in response.content.decode()
    assert response.context["job"].status == Job.Status.DONE


def test_a_file_that_is_not_utf8_is_named(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    response = post_file(owner_client, car, (",".join(HEADER) + "\nCafé").encode("latin-1"))
    assert "x.csv is not UTF-8 text (the first bad byte is on line 2)." in response.content.decode()


def test_a_staff_user_cannot_import_into_another_users_car(owner_client, owner, other_owner, make_car):
    theirs = make_car(other_owner, name="Theirs")
    response = preview(owner_client, theirs, [session_row()])
    assert "Select a valid choice." in response.content.decode()
    assert not ChargingSession.objects.exists() and not Job.objects.exists()


def test_errors_name_the_line_in_the_file_like_the_cli(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    rows = [session_row(notes="two\nlines"), session_row(odometer="1100"), session_row(odometer="x")]
    assert [issue["row"] for issue in report_of(preview(owner_client, car, rows))["errors"]] == [5]


def test_the_check_shows_the_warnings_of_new_rows(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    response = preview(owner_client, car, [session_row(cost_per_kwh="0.10", total_cost_gbp="9.99")])
    assert "Line 2, total cost (£): £9.99 differs from price × energy" in response.content.decode()


def test_a_failed_write_at_confirm_says_nothing_was_imported(owner_client, owner, make_car, monkeypatch):
    from django.db import OperationalError

    car = make_car(owner, name="Mine")
    response = preview(owner_client, car, [session_row()])

    def failing(*args, **kwargs):
        raise OperationalError("disk I/O error")

    def copy_failing(*args, **kwargs):
        raise psycopg.errors.DiskFull("disk I/O error")  # the driver's own error, as COPY raises it

    # The disk fills up as the rows are written (SQLite: executemany; PostgreSQL: COPY).
    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.executemany", failing)
    monkeypatch.setattr("psycopg.Cursor.copy", copy_failing)
    html = confirm(owner_client, response).content.decode()
    assert "The database refused the import, so nothing was written (disk I/O error)." in html
    assert not ChargingSession.objects.exists()
    assert Job.objects.get().status == Job.Status.FAILED


def test_an_upload_over_the_limit_is_refused_as_it_arrives(owner_client, owner, make_car, settings, tmp_path):
    settings.PLUGTRACK_MAX_UPLOAD_MB = 1
    settings.PLUGTRACK_DATA_DIR = tmp_path
    car = make_car(owner, name="Mine")
    response = post_file(owner_client, car, (",".join(HEADER) + "\n").encode() + b"x" * 2 * 1024 * 1024)
    assert "The file is larger than 1 MB, the most PlugTrack accepts from the browser" in response.content.decode()
    assert not Job.objects.exists() and not any(tmp_path.rglob("*.csv"))


def test_export_streams_one_cars_sessions_as_the_command_writes_them(
    owner_client, owner, other_owner, make_car, make_session, tmp_path
):
    car = make_car(owner, name="Mine")
    make_session(car, "2025-03-01", 1000, "30.5", location_label="=evil()")
    make_session(car, "2025-04-01", 1100, "20")
    make_session(make_car(owner, name="Other"), "2025-03-01", 5)
    make_session(make_car(other_owner, name="Theirs"), "2025-03-01", 5, location_label="Their place")

    page = owner_client.get(reverse(EXPORT), {"car__id__exact": car.pk}).content.decode()
    assert f'<option value="{car.pk}" selected>Mine (2 sessions)</option>' in page and "Theirs" not in page
    response = owner_client.post(reverse(EXPORT), {"car": car.pk, "date_to": "2025-03-31"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="plugtrack_sessions_alice_mine_\d{4}-\d\d-\d\d.csv"', response["Content-Disposition"]
    )
    downloaded = b"".join(response.streaming_content)

    charging_sessions_export(user=owner, car=car, date_to=dt.date(2025, 3, 31), target=tmp_path / "cli.csv")
    assert downloaded == (tmp_path / "cli.csv").read_bytes()  # byte for byte what the command writes
    assert downloaded.decode().splitlines()[1].startswith("2025-03-01,1000,AC,,'=evil(),,30.5,")


def test_export_refuses_another_users_car_and_an_empty_date_range(owner_client, owner, other_owner, make_car):
    mine, theirs = make_car(owner, name="Mine"), make_car(other_owner, name="Theirs")
    assert "Select a valid choice." in owner_client.post(reverse(EXPORT), {"car": theirs.pk}).content.decode()
    empty = {"car": mine.pk, "date_from": "2025-05-01", "date_to": "2025-04-01"}
    assert (
        "The date range is empty: 2025-05-01 is after 2025-04-01."
        in owner_client.post(reverse(EXPORT), empty).content.decode()
    )


def test_a_staff_user_who_may_only_view_cannot_import(client, db, make_car):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_chargingsession", "view_car"]))
    car = make_car(viewer, name="Theirs")
    client.force_login(viewer)
    assert client.get(reverse(IMPORT)).status_code == 403
    assert preview(client, car, [session_row()]).status_code == 403
    assert not ChargingSession.objects.exists()


def test_the_run_writes_what_the_check_found_new_and_skips_what_arrived_meanwhile(
    owner_client, owner, make_car, tmp_path
):
    car = make_car(owner, name="Mine")
    rows = [
        session_row(),
        session_row(date="2025-03-05", odometer="1100"),
        session_row(date="2025-03-09", odometer="1200"),
    ]
    checked = preview(owner_client, car, rows)
    assert report_of(checked)["inserted"] == 3
    # Between the check and the confirm, another import stores one of the rows.
    charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows[1:2], name="meanwhile.csv"))

    html = confirm(owner_client, checked).content.decode()
    assert "Imported 2 session(s) into Mine; 1 were already there." in html
    assert sorted(car.sessions.values_list("odometer", flat=True)) == [1000, 1100, 1200]
    assert car.sessions.filter(is_baseline=True).get().odometer == 1000
    assert not list(Path(Job.objects.get().upload).parent.glob("*.checked"))


def test_a_confirmed_import_stores_exactly_what_the_command_would(owner_client, owner, make_car, tmp_path):
    by_admin, by_command = make_car(owner, name="Admin"), make_car(owner, name="Command")
    rows = [
        session_row(),
        session_row(date="2025-03-05", odometer="1100", charge_type="dc", cost_per_kwh="", total_cost_gbp="9.99"),
        session_row(date="2025-03-09", odometer="1200", notes='two\nlines, "quoted"', location_label="'=SUM(A1)"),
        session_row(date="2025-03-12", odometer="1300", notes="a\ttab, a \\N and C:\\path\\", charge_network=""),
    ]
    confirm(owner_client, preview(owner_client, by_admin, rows))
    charging_sessions_import(user=owner, car=by_command, source=write_csv(tmp_path, rows))

    def stored(car):
        fields = [f.name for f in ChargingSession._meta.fields if f.name not in ("id", "car", "created_at", "batch")]
        return list(car.sessions.order_by("date").values_list(*fields))

    assert stored(by_admin) == stored(by_command) and len(stored(by_admin)) == 4
    assert by_admin.sessions.get(odometer=1300).notes == "a\ttab, a \\N and C:\\path\\"  # COPY's escapes


def test_every_error_can_be_downloaded_from_the_job_page(
    owner_client, client, owner, other_owner, make_car, settings, tmp_path
):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    car = make_car(owner, name="Mine")
    rows = [session_row(date=f"2025-01-{1 + i % 28:02}", odometer=f"x{i}") for i in range(150)]
    response = preview(owner_client, car, rows)
    html = response.content.decode()
    assert "Errors (the first 100 of 150)" in html
    assert "Download all of them as a CSV file</a> (150 errors and 0 warnings" in html

    url = reverse("admin:jobs_job_errors", args=[response.context["job"].pk])
    download = owner_client.get(url)
    assert download["Content-Disposition"] == 'attachment; filename="may.err.csv"'
    lines = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert lines[0] == ["row", "severity", "field", "value", "message"] and len(lines) == 151
    assert lines[-1] == ["151", "error", "odometer", "x149", '"x149" is not a whole number.']

    client.force_login(other_owner)
    assert client.get(url).status_code == 404  # another owner's job is not found

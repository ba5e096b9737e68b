"""The admin import/export buttons: the same resource and rules as the CLI, scoped to the user."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sessions_app.csv_format import HEADER
from sessions_app.models import ChargingSession

from .csv_helpers import session_row

IMPORT = "admin:sessions_app_chargingsession_import"
PROCESS = "admin:sessions_app_chargingsession_process_import"
EXPORT = "admin:sessions_app_chargingsession_export"


def upload(rows: list[dict], name: str = "may.csv") -> SimpleUploadedFile:
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    writer.writerows([row[column] for column in HEADER] for row in rows)
    return SimpleUploadedFile(name, stream.getvalue().encode(), content_type="text/csv")


def preview(client, car, rows):
    return client.post(reverse(IMPORT), {"car": car.pk, "format": "0", "import_file": upload(rows)})


def confirm_data(response, **overrides) -> dict:
    form = response.context["confirm_form"]
    return {name: form.initial.get(name, "") for name in form.fields} | overrides


def test_the_import_form_offers_only_the_users_own_cars(owner_client, owner, other_owner, make_car):
    make_car(owner, name="Mine")
    make_car(other_owner, name="Theirs")
    html = owner_client.get(reverse(IMPORT)).content.decode()
    assert "Mine" in html and "Theirs" not in html


def test_preview_shows_new_and_duplicate_rows_then_confirm_writes(owner_client, owner, make_car, make_session):
    car = make_car(owner, name="Mine")
    make_session(car, "2025-03-01", 1000, "30.5")
    response = preview(owner_client, car, [session_row(), session_row(odometer="1100", date="2025-03-05")])

    html = response.content.decode()
    assert response.status_code == 200
    assert ChargingSession.objects.count() == 1  # the preview writes nothing
    assert "New" in html and "Skipped" in html
    response = owner_client.post(reverse(PROCESS), confirm_data(response))

    assert response.status_code == 302
    assert list(car.sessions.order_by("odometer").values_list("odometer", "is_baseline")) == [
        (1000, True),
        (1100, False),
    ]


def test_invalid_rows_are_shown_with_row_field_and_message_and_cannot_be_confirmed(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    response = preview(owner_client, car, [session_row(), session_row(odometer="12,5")])
    html = response.content.decode()
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    assert "&quot;12,5&quot; is not a whole number." in html
    assert not ChargingSession.objects.exists()


def test_a_wrong_header_is_reported(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    bad = SimpleUploadedFile("x.csv", b"date,odometer\n2025-01-01,5\n", content_type="text/csv")
    response = owner_client.post(reverse(IMPORT), {"car": car.pk, "format": "0", "import_file": bad})
    assert "the header has missing column(s): charge_type" in response.content.decode()
    assert not ChargingSession.objects.exists()


def test_a_row_with_a_wrong_number_of_cells_is_an_invalid_row_named_by_its_line(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    lines = ",".join(HEADER) + "\n" + "2025-01-01,1,AC,,Home,,5,,,,,,,\n" + "2025-01-02,2,AC,,Home,,5\n"
    bad = SimpleUploadedFile("x.csv", lines.encode(), content_type="text/csv")
    response = owner_client.post(reverse(IMPORT), {"car": car.pk, "format": "0", "import_file": bad})
    result = response.context["result"]
    assert [(row.number, row.error_dict) for row in result.invalid_rows] == [
        (3, {"__all__": ["has 7 cells but the header has 14; a value containing a comma must be in double quotes."]})
    ]
    assert "has 7 cells but the header has 14" in response.content.decode()
    assert not response.context.get("confirm_form") and not ChargingSession.objects.exists()


def test_a_file_of_only_the_header_is_refused_with_the_message_the_cli_gives(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    header_only = SimpleUploadedFile("x.csv", (",".join(HEADER) + "\r\n\r\n").encode(), content_type="text/csv")
    response = owner_client.post(reverse(IMPORT), {"car": car.pk, "format": "0", "import_file": header_only})
    assert "The file has the header but no sessions: nothing to import." in response.content.decode()
    assert not response.context.get("confirm_form")


def test_a_file_that_is_not_utf8_is_named(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    bad = SimpleUploadedFile("x.csv", (",".join(HEADER) + "\nCafé").encode("latin-1"), content_type="text/csv")
    response = owner_client.post(reverse(IMPORT), {"car": car.pk, "format": "0", "import_file": bad})
    assert "The file is not UTF-8 text." in response.content.decode()


def test_a_staff_user_cannot_import_into_another_users_car(owner_client, owner, other_owner, make_car):
    mine, theirs = make_car(owner, name="Mine"), make_car(other_owner, name="Theirs")
    response = preview(owner_client, theirs, [session_row()])
    assert "Select a valid choice." in response.content.decode()

    # Nor by forging the hidden car of the confirm step.
    response = preview(owner_client, mine, [session_row()])
    owner_client.post(reverse(PROCESS), confirm_data(response, car=theirs.pk))
    assert not ChargingSession.objects.exists()


def test_export_gives_the_users_sessions_as_the_14_column_csv(owner_client, owner, other_owner, make_car, make_session):
    car = make_car(owner, name="Mine")
    make_session(car, "2025-03-01", 1000, "30.5", location_label="=evil()")
    make_session(make_car(other_owner, name="Theirs"), "2025-03-01", 5, location_label="Their place")

    response = owner_client.post(reverse(EXPORT), {"format": "0"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="plugtrack_sessions_alice_' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == ",".join(HEADER)
    assert lines[1].startswith("2025-03-01,1000,AC,,'=evil(),,30.5,")
    assert len(lines) == 2  # not bob's session


def test_admin_errors_name_the_line_in_the_file_like_the_cli(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    rows = [session_row(notes="two\nlines"), session_row(odometer="1100"), session_row(odometer="x")]
    response = preview(owner_client, car, rows)
    assert [row.number for row in response.context["result"].invalid_rows] == [5]


def test_admin_preview_shows_the_warnings_of_new_rows(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    response = preview(owner_client, car, [session_row(cost_per_kwh="0.10", total_cost_gbp="9.99")])
    assert "Line 2, total_cost_gbp: £9.99 differs from cost_per_kwh × kWh" in response.content.decode()


def test_a_wrong_header_is_a_form_error_without_a_traceback(owner_client, owner, make_car):
    car = make_car(owner, name="Mine")
    bad = SimpleUploadedFile("x.csv", b"date,odometer,\n2025-01-01,5,\n", content_type="text/csv")
    html = owner_client.post(reverse(IMPORT), {"car": car.pk, "format": "0", "import_file": bad}).content.decode()
    assert "unknown column(s): &#x27;&#x27;" in html
    assert "Traceback" not in html and "traceback" not in html.split("<body")[1].split("</form>")[0]


def test_a_failed_write_at_confirm_says_nothing_was_imported(owner_client, owner, make_car, monkeypatch):
    from django.db import OperationalError

    car = make_car(owner, name="Mine")
    response = preview(owner_client, car, [session_row()])

    def failing(*args, **kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr("django.db.models.query.QuerySet.bulk_create", failing)
    response = owner_client.post(reverse(PROCESS), confirm_data(response), follow=True)
    html = response.content.decode()
    assert "Nothing was imported: disk I/O error" in html and "Import finished" not in html
    assert not ChargingSession.objects.exists()


def test_a_staff_user_who_may_only_view_cannot_import(client, db, make_car):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_chargingsession", "view_car"]))
    car = make_car(viewer, name="Theirs")
    client.force_login(viewer)
    assert client.get(reverse(IMPORT)).status_code == 403
    assert preview(client, car, [session_row()]).status_code == 403
    assert not ChargingSession.objects.exists()

"""Import batches with undo (issue 13, point 5): every import is recorded, and an undo removes
exactly the sessions it inserted, keeping those edited since unless told otherwise."""

import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from backups.services import backup_create, backup_restore
from sessions_app.imports import batches
from sessions_app.imports.batches import BatchNotFound, import_batch_undo
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.models import ChargingSession, ImportBatch

from ..csv_helpers import session_row, write_csv


@pytest.fixture
def car_with_history(owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-10", 1100, "25")
    return car


@pytest.fixture
def march_file(tmp_path):
    rows = [session_row(date=f"2025-03-{day:02d}", odometer=str(1200 + 20 * day), charge_delivered_kwh="30")
            for day in (1, 5, 9)]  # fmt: skip
    return write_csv(tmp_path, rows, name="march.csv")


def odometers(car) -> list[int]:
    return sorted(car.sessions.values_list("odometer", flat=True))


def test_an_import_is_recorded_with_its_file_and_counts(owner, car_with_history, march_file):
    report = charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    batch = ImportBatch.objects.get()
    assert report.batch_id == batch.pk
    assert (batch.user, batch.car, batch.kind, batch.source_name, batch.format) == (
        owner,
        car_with_history,
        "import",
        "march.csv",
        "plugtrack",
    )
    assert batch.sha256 == hashlib.sha256(march_file.read_bytes()).hexdigest()
    assert (batch.rows_read, batch.inserted, batch.skipped_duplicates, batch.errors) == (3, 3, 0, 0)
    assert sorted(batch.sessions.values_list("odometer", flat=True)) == [1220, 1300, 1380]


def test_a_dry_run_or_a_refused_import_records_nothing(owner, car_with_history, march_file, tmp_path):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file, options=ImportOptions(dry_run=True))
    bad = write_csv(tmp_path, [session_row(date="2025-04-01", odometer="x")], name="bad.csv")
    charging_sessions_import(user=owner, car=car_with_history, source=bad)
    assert not ImportBatch.objects.exists()


def test_undo_removes_exactly_what_the_import_inserted_and_importing_again_inserts_it_again(
    owner, car_with_history, march_file
):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    batch = ImportBatch.objects.get()
    assert odometers(car_with_history) == [1000, 1100, 1220, 1300, 1380]

    dry = import_batch_undo(user=owner, batch_id=batch.pk, dry_run=True)
    assert (dry.removed, len(odometers(car_with_history))) == (3, 5)  # a dry run changes nothing

    report = import_batch_undo(user=owner, batch_id=batch.pk)
    assert report.removed == 3 and odometers(car_with_history) == [1000, 1100]
    batch.refresh_from_db()
    assert batch.undone_at is not None and (batch.removed, batch.kept_edited) == (3, 0)
    assert car_with_history.sessions.get(odometer=1000).is_baseline
    with pytest.raises(BatchNotFound, match="was undone already"):
        import_batch_undo(user=owner, batch_id=batch.pk)

    again = charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    assert again.inserted == 3 and again.batch_id != batch.pk


def test_a_session_edited_since_is_kept_and_listed_unless_asked(owner_client, owner, car_with_history, march_file):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    batch = ImportBatch.objects.get()
    edited = car_with_history.sessions.get(odometer=1300)
    form = {name: value for name, value in session_row(date="2025-03-05", odometer="1300").items() if value}
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_change", args=[edited.pk]),
        form | {"car": car_with_history.pk, "charge_delivered_kwh": "30", "notes": "corrected by hand"},
    )
    assert response.status_code == 302

    report = import_batch_undo(user=owner, batch_id=batch.pk)
    assert (report.removed, report.kept_edited) == (2, 1)
    assert report.edited == ["5 Mar 2025 · 1,300 mi · 30.0 kWh"]
    assert odometers(car_with_history) == [1000, 1100, 1300]
    assert "kept 1 session(s) edited since the import" in report.text


def test_include_edited_removes_the_edited_ones_too(owner, car_with_history, march_file):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    ChargingSession.objects.filter(odometer=1300).update(notes="edited", edited_at="2030-01-01T00:00:00Z")
    report = import_batch_undo(user=owner, batch_id=ImportBatch.objects.get().pk, include_edited=True)
    assert report.removed == 3 and odometers(car_with_history) == [1000, 1100]


def test_an_undo_that_fails_halfway_changes_nothing(owner, car_with_history, march_file, monkeypatch):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    batch = ImportBatch.objects.get()

    def failing(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(batches, "sessions_sequence_recompute", failing)
    with pytest.raises(RuntimeError):
        import_batch_undo(user=owner, batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.undone_at is None and len(odometers(car_with_history)) == 5


def test_another_owners_import_cannot_be_undone(owner, other_owner, car_with_history, march_file):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    with pytest.raises(BatchNotFound, match="has no import"):
        import_batch_undo(user=other_owner, batch_id=ImportBatch.objects.get().pk)
    assert len(odometers(car_with_history)) == 5


def test_the_commands_list_and_undo(owner, car_with_history, march_file, capsys):
    call_command("sessions_import", "--from", str(march_file), "--json")
    batch_id = json.loads(capsys.readouterr().out)["batch_id"]
    call_command("import_batches", "--json")
    listed = json.loads(capsys.readouterr().out)["batches"]
    assert [(row["id"], row["inserted"], row["undone_at"]) for row in listed] == [(batch_id, 3, None)]

    call_command("import_undo", str(batch_id), "--dry-run")
    assert f"Undo of import {batch_id} (march.csv): would remove 3 session(s)." in capsys.readouterr().out
    call_command("import_undo", str(batch_id), "--json")
    assert json.loads(capsys.readouterr().out) | {"removed": 3} == json.loads(json.dumps(
        {"ok": True, "batch_id": batch_id, "source": "march.csv", "dry_run": False, "removed": 3, "kept_edited": 0,
         "edited": [], "include_edited": False}))  # fmt: skip
    with pytest.raises(CommandError, match="was undone already") as refused:
        call_command("import_undo", str(batch_id))
    assert refused.value.returncode == 2
    assert len(odometers(car_with_history)) == 2


def test_the_admin_confirmed_import_is_a_batch_and_the_admin_undoes_it(
    owner_client, owner, car_with_history, march_file
):
    from .test_csv_admin import confirm, preview

    rows = [session_row(date="2025-03-01", odometer="1220", charge_delivered_kwh="30")]
    confirm(owner_client, preview(owner_client, car_with_history, rows))
    batch = ImportBatch.objects.get()
    assert batch.inserted == 1 and batch.sha256

    changelist = reverse("admin:sessions_app_importbatch_changelist")
    html = owner_client.get(changelist).content.decode()
    assert "may.csv" in html and "imported" in html
    page = owner_client.post(changelist, {"action": "undo_selected", "_selected_action": [batch.pk]})
    assert "removes 1 session" in page.content.decode() and len(odometers(car_with_history)) == 3  # asks first
    done = owner_client.post(
        changelist, {"action": "undo_selected", "_selected_action": [batch.pk], "post": "yes"}, follow=True
    )
    assert "removed 1 session(s)." in done.content.decode()
    assert odometers(car_with_history) == [1000, 1100]


def test_a_merge_restore_is_a_batch_that_can_be_undone(owner, car_with_history, make_car, make_session, tmp_path):
    backup = backup_create(user=owner, target=tmp_path / "b.zip")
    ChargingSession.objects.filter(odometer=1100).delete()
    report = backup_restore(user=owner, source=backup.path, mode="merge")
    batch = ImportBatch.objects.get()
    assert (batch.kind, batch.car, batch.inserted, report.sessions.batch_id) == ("restore", None, 1, batch.pk)
    import_batch_undo(user=owner, batch_id=batch.pk)
    assert odometers(car_with_history) == [1000]


def test_an_owner_may_see_imports(owner):
    assert owner.has_perm("sessions_app.view_importbatch")


def test_a_car_with_imports_can_still_be_deleted_in_the_admin(owner_client, owner, car_with_history, march_file):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    url = reverse("admin:cars_app_car_delete", args=[car_with_history.pk])
    assert "Are you sure" in owner_client.get(url).content.decode()
    assert owner_client.post(url, {"post": "yes"}).status_code == 302
    assert not ImportBatch.objects.exists() and not ChargingSession.objects.exists()


def test_a_replace_restore_leaves_no_import_to_undo(owner, car_with_history, march_file, tmp_path):
    charging_sessions_import(user=owner, car=car_with_history, source=march_file)
    backup = backup_create(user=owner, target=tmp_path / "b.zip")
    backup_restore(user=owner, source=backup.path, mode="merge")  # a restore batch of nothing new
    assert ImportBatch.objects.count() == 2
    backup_restore(user=owner, source=backup.path, mode="replace")
    assert not ImportBatch.objects.exists()  # what they inserted was replaced


def test_the_admin_import_records_the_checks_counts_and_format(owner_client, owner, car_with_history):
    from .test_csv_admin import confirm, preview

    rows = [session_row(date="2025-03-01", odometer="1220", charge_delivered_kwh="30"),
            session_row(date="2025-01-10", odometer="1100", charge_delivered_kwh="25"),  # stored already
            session_row(date="2025-03-02", odometer="x")]  # fmt: skip
    response = preview(owner_client, car_with_history, rows)
    confirm(owner_client, response, allow_partial="on")
    batch = ImportBatch.objects.get()
    assert (batch.rows_read, batch.inserted, batch.skipped_duplicates, batch.errors, batch.format) == (
        3,
        1,
        1,
        1,
        "plugtrack",
    )

"""An import's own page (issue 22, point 4): what it brought, when, from which file, its counts, how the
file was read in words, a link to exactly its sessions, and Undo with its confirmation; the record is not
deleted while its sessions are there."""

import html
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.models import ChargingSession, ImportBatch

from ..csv_helpers import session_row, write_csv
from .formats.test_real_files import EVCC_NEWEST_FIRST

SESSIONS = "admin:sessions_app_chargingsession_changelist"


def page_url(batch) -> str:
    return reverse("admin:sessions_app_importbatch_change", args=[batch.pk])


def undo_url(batch) -> str:
    return reverse("admin:sessions_app_importbatch_undo", args=[batch.pk])


def text_of(response) -> str:
    """The page's words, tags left out (what a person reads)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def import_rows(user, car, folder, name: str, days, odometer: int = 1200) -> ImportBatch:
    rows = [session_row(date=f"2025-03-{day:02d}", odometer=str(odometer + 20 * day), charge_delivered_kwh="30")
            for day in days]  # fmt: skip
    report = charging_sessions_import(user=user, car=car, source=write_csv(folder, rows, name=name))
    return ImportBatch.objects.get(pk=report.batch_id)


@pytest.fixture
def niro(owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "20")
    return car


@pytest.fixture
def march(owner, niro, tmp_path) -> ImportBatch:
    return import_rows(owner, niro, tmp_path, "march.csv", (1, 5, 9))


def test_the_page_of_an_owners_file_says_what_when_which_file_the_counts_and_how_it_was_read(
    owner_client, owner, niro, tmp_path
):
    path = tmp_path / "evcc.csv"
    path.write_text(EVCC_NEWEST_FIRST)
    choices = ImportChoices(currency="EUR", rate="0.86", blank_odometer="skip")
    report = charging_sessions_import(
        user=owner, car=niro, source=path, options=ImportOptions(file_format="evcc", choices=choices)
    )
    batch = ImportBatch.objects.get(pk=report.batch_id)
    response = owner_client.get(page_url(batch))
    assert response.status_code == 200
    text = text_of(response)
    local = timezone.localtime(batch.created_at)
    for said in [
        "The import of evcc.csv", "Charging sessions for Niro", f"{local.day} {local:%b %Y %H:%M}",
        "Rows read: 4", "New: 2", "Already there (skipped): 0", "Errors: 0",
        "Read as evcc's sessions file.", "Written as UTF-8 text, comma-separated, with a decimal point",
        "Columns, as PlugTrack proposed for this kind of file: date from “Start Time”;",
        "odometer (miles) from “Mileage (km)”", "energy (kWh) from “Energy (kWh)”",
        "Costs: EUR, converted at £0.86 per EUR.", "Odometer: rows without an odometer reading were left out.",
        "2 sessions: see them in the sessions list", "Undo this import",
    ]:  # fmt: skip
        assert said in text, said
    # No developer's view of it: no hash, no JSON, no field names, no ISO time.
    assert batch.sha256 and batch.sha256 not in text
    assert "SHA-256" not in text and "{" not in text and "charge_delivered_kwh" not in text
    assert f"{batch.created_at:%Y-%m-%d}" not in text
    assert f'href="{reverse(SESSIONS)}?import={batch.pk}"' in response.content.decode()


def test_the_page_of_plugtracks_own_csv_and_of_a_merge_restore(owner_client, owner, march, tmp_path):
    text = text_of(owner_client.get(page_url(march)))
    assert "Read as PlugTrack's own CSV file" in text and "Written as" not in text
    assert "Rows read: 3" in text and "3 sessions: see them in the sessions list" in text

    from backups.services import backup_create, backup_restore

    backup = backup_create(user=owner, target=tmp_path / "b.zip")
    ChargingSession.objects.filter(odometer=1300).delete()
    backup_restore(user=owner, source=backup.path, mode="merge")
    restore = ImportBatch.objects.get(kind="restore")
    text = text_of(owner_client.get(page_url(restore)))
    assert "Sessions from a backup (a merge restore)" in text and "1 session: see them" in text


def test_the_sessions_list_shows_exactly_one_imports_sessions_and_never_another_owners(
    owner_client, owner, other_owner, niro, march, make_car, tmp_path
):
    april = import_rows(owner, niro, tmp_path, "april.csv", (20, 25), odometer=1500)
    bobs_car = make_car(other_owner, name="Bob's Leaf")
    bobs = import_rows(other_owner, bobs_car, tmp_path, "bob.csv", (1, 5), odometer=1200)

    def listed(client, number) -> list[int]:
        response = client.get(reverse(SESSIONS), {"import": number})
        assert response.status_code == 200
        return sorted(session.odometer for session in response.context["cl"].result_list)

    assert listed(owner_client, march.pk) == [1220, 1300, 1380]
    assert listed(owner_client, april.pk) == [1900, 2000]
    html = owner_client.get(reverse(SESSIONS), {"import": march.pk}).content.decode()
    assert "march.csv" in html  # the filter names the import the list shows
    assert listed(owner_client, bobs.pk) == []  # bob's import: none of his sessions, none of alice's
    assert listed(owner_client, "not-a-number") == []
    bob = Client()
    bob.force_login(other_owner)
    assert listed(bob, march.pk) == [] and listed(bob, bobs.pk) == [1220, 1300]
    assert len(listed(owner_client, "")) == 6  # no import chosen: every session (1 + 3 + 2)


def test_undo_from_the_page_asks_first_then_undoes(owner_client, owner, niro, march):
    assert f'href="{undo_url(march)}"' in owner_client.get(page_url(march)).content.decode()

    asked = owner_client.get(undo_url(march))
    text = text_of(asked)
    assert "march.csv" in text and "removes 3 sessions" in text and 'value="Yes, undo"' in asked.content.decode()
    assert f'href="{page_url(march)}"' in asked.content.decode()  # "No, take me back" returns to the page
    assert niro.sessions.count() == 4  # asking changed nothing

    done = owner_client.post(undo_url(march), {"post": "yes"}, follow=True)
    assert done.redirect_chain[-1][0] == page_url(march)
    text = text_of(done)
    assert "Import of march.csv undone: removed 3 session(s)." in text
    assert "undone" in text and "None left: the undo removed them." in text
    assert "Undo this import" not in text
    assert list(niro.sessions.values_list("odometer", flat=True)) == [1000]
    march.refresh_from_db()
    assert march.undone_at is not None and march.removed == 3

    again = owner_client.post(undo_url(march), {"post": "yes"}, follow=True)
    assert "was undone already" in text_of(again)


def test_undo_from_the_page_keeps_sessions_edited_since_unless_asked(owner_client, niro, march):
    ChargingSession.objects.filter(odometer=1300).update(notes="corrected", edited_at=timezone.now())
    text = text_of(owner_client.get(undo_url(march)))
    assert "removes 2 sessions; keeps 1 edited since the import" in text
    assert "Also remove the sessions edited since the import" in text
    owner_client.post(undo_url(march), {"post": "yes", "include_edited": "on"})
    assert list(niro.sessions.values_list("odometer", flat=True)) == [1000]


def test_another_owners_import_page_and_undo_are_not_there(client, other_owner, niro, march):
    client.force_login(other_owner)
    assert client.get(page_url(march)).status_code in (302, 404)  # the admin's "not found" sends to its index
    assert client.get(undo_url(march)).status_code == 404
    assert client.post(undo_url(march), {"post": "yes"}).status_code == 404
    assert niro.sessions.count() == 4


def test_no_delete_while_the_imports_sessions_are_there(owner_client, niro, march):
    html = owner_client.get(page_url(march)).content.decode()
    assert "deletelink" not in html and "undoing the import removes them" in html
    delete = reverse("admin:sessions_app_importbatch_delete", args=[march.pk])
    for response in (owner_client.get(delete, follow=True), owner_client.post(delete, {"post": "yes"}, follow=True)):
        assert response.redirect_chain[-1][0] == page_url(march)
        assert "stays while the sessions it added are there: undo the import" in text_of(response)
    assert ImportBatch.objects.filter(pk=march.pk).exists() and niro.sessions.count() == 4

    # A session edited since stays after the undo, and so does the record naming it.
    ChargingSession.objects.filter(odometer=1300).update(edited_at=timezone.now())
    owner_client.post(undo_url(march), {"post": "yes"})
    owner_client.post(delete, {"post": "yes"})
    assert ImportBatch.objects.filter(pk=march.pk).exists()
    # Once none is left, the record of what happened may go.
    ChargingSession.objects.filter(odometer=1300).delete()
    assert "deletelink" in owner_client.get(page_url(march)).content.decode()
    owner_client.post(delete, {"post": "yes"})
    assert not ImportBatch.objects.filter(pk=march.pk).exists()


def test_who_may_not_delete_sessions_sees_no_undo(client, owner, march):
    owner.groups.clear()  # only these two permissions: see imports and sessions
    owner.user_permissions.set(Permission.objects.filter(
        content_type__app_label="sessions_app", codename__in=["view_importbatch", "view_chargingsession"]
    ))  # fmt: skip
    client.force_login(User.objects.get(pk=owner.pk))  # a fresh object: permissions are cached per instance
    assert "Undo this import" not in text_of(client.get(page_url(march)))
    assert client.get(undo_url(march)).status_code == 403
    assert client.post(undo_url(march), {"post": "yes"}).status_code == 403
    assert ChargingSession.objects.filter(batch=march).count() == 3


def test_a_superuser_may_see_an_owners_import_page(admin_client, march):
    text = text_of(admin_client.get(page_url(march)))
    assert "The import of march.csv" in text and "alice" in text

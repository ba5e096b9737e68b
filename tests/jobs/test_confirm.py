"""A confirmation runs its job once: a second submit (another tab, a double click), even at the
same moment on another connection, is shown the outcome of the first."""

import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.urls import reverse

from backups.models import Backup
from backups.services import backup_create
from jobs.models import Job
from sessions_app.models import ChargingSession

from ..processes import AccountLockHeld, busy_timeout_of_one_second
from ..sessions_app.csv_helpers import session_row, write_csv

RESTORE, RESTORE_CONFIRM = "admin:backups_backup_restore", "admin:backups_backup_restore_confirm"
IMPORT, IMPORT_CONFIRM = (
    "admin:sessions_app_chargingsession_import",
    "admin:sessions_app_chargingsession_import_confirm",
)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"


def shown(response) -> list[str]:
    """The messages of the page a confirmation lands on."""
    return [str(message) for message in response.context["messages"]]


def checked_restore(client, path) -> str:
    upload = SimpleUploadedFile("mine.zip", Path(path).read_bytes())
    response = client.post(reverse(RESTORE), {"backup_file": upload, "mode": "replace"})
    return response.context["confirm_form"].initial["token"]


def test_a_restore_confirmed_twice_runs_once_and_the_second_shows_what_the_first_did(
    owner_client, owner, make_car, tmp_path
):
    make_car(owner, name="Niro")
    token = checked_restore(owner_client, backup_create(user=owner, target=tmp_path / "mine.zip").path)

    first = owner_client.post(reverse(RESTORE_CONFIRM), {"token": token}, follow=True)
    second = owner_client.post(reverse(RESTORE_CONFIRM), {"token": token}, follow=True)

    assert Backup.objects.filter(kind="automatic").count() == 1
    assert shown(first) == [
        "Restored (replace): 1 cars added, 0 updated; 0 sessions added, 0 already there; 7 settings set."
    ]
    assert second.redirect_chain == [(reverse("admin:backups_backup_changelist"), 302)]
    assert "was confirmed already" in shown(second)[0]
    assert shown(second)[1:] == shown(first)  # the outcome of the first, not a failure
    job = Job.objects.get()
    assert job.status == Job.Status.DONE and not Path(job.upload).exists()


def test_an_import_confirmed_twice_imports_once(owner_client, owner, make_car, tmp_path):
    car = make_car(owner, name="Niro")
    path = write_csv(tmp_path, [session_row(), session_row(date="2025-03-05", odometer="1100")])
    response = owner_client.post(
        reverse(IMPORT), {"car": car.pk, "import_file": SimpleUploadedFile("may.csv", path.read_bytes())}
    )
    token = response.context["confirm_form"].initial["token"]

    first = owner_client.post(reverse(IMPORT_CONFIRM), {"token": token}, follow=True)
    second = owner_client.post(reverse(IMPORT_CONFIRM), {"token": token}, follow=True)

    assert shown(first) == ["Imported 2 session(s) into Niro; 0 were already there."]
    assert shown(second)[1:] == shown(first)
    assert ChargingSession.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_the_same_moment_run_the_restore_once(owner, make_car, tmp_path):
    make_car(owner, name="Niro")
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(owner)
    token = checked_restore(clients[0], backup_create(user=owner, target=tmp_path / "mine.zip").path)
    start, responses = threading.Barrier(2), []

    def confirm(client):
        try:
            start.wait()
            responses.append(client.post(reverse(RESTORE_CONFIRM), {"token": token}, follow=True))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Backup.objects.filter(kind="automatic").count() == 1
    # The pages themselves: the test client's captured contexts mix up concurrent requests.
    pages = [response.content.decode() for response in responses]
    repeated = [page for page in pages if "This backup restore was confirmed already" in page]
    ran = [page for page in pages if page not in repeated]
    assert len(repeated) == 1 and len(ran) == 1
    assert "Restored (replace): 1 cars added" in ran[0]


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_refused_because_the_account_is_busy_can_be_given_again(owner, make_car, tmp_path, settings):
    settings.PLUGTRACK_LOCK_WAIT_SECONDS = 1
    client = Client()
    client.force_login(owner)
    make_car(owner, name="Niro")
    token = checked_restore(client, backup_create(user=owner, target=tmp_path / "mine.zip").path)

    with AccountLockHeld(owner.pk, data_dir=tmp_path), busy_timeout_of_one_second():
        busy = client.post(reverse(RESTORE_CONFIRM), {"token": token}, follow=True)
    assert "Another import, restore or backup is running" in busy.content.decode()
    assert Job.objects.get().status == Job.Status.CHECKED and not Backup.objects.filter(kind="automatic").exists()

    done = client.post(reverse(RESTORE_CONFIRM), {"token": token}, follow=True)
    assert "Restored (replace): 1 cars added" in done.content.decode()
    assert Job.objects.get().status == Job.Status.DONE

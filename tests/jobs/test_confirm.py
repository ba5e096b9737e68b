"""A confirmation runs its job once: a second submit (another tab, a double click), even at the
same moment on another connection, is shown where the first stands."""

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

RESTORE = "admin:backups_backup_restore"
IMPORT = "admin:sessions_app_chargingsession_import"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"


def checked_restore(client, path) -> str:
    """Upload a backup to replace with; the URL confirming its check."""
    upload = SimpleUploadedFile("mine.zip", Path(path).read_bytes())
    response = client.post(reverse(RESTORE), {"backup_file": upload, "mode": "replace"}, follow=True)
    return response.context["confirm_url"]


def test_a_restore_confirmed_twice_runs_once_and_the_second_is_shown_the_first(owner_client, owner, make_car, tmp_path):
    make_car(owner, name="Niro")
    confirm = checked_restore(owner_client, backup_create(user=owner, target=tmp_path / "mine.zip").path)

    first = owner_client.post(confirm, follow=True).content.decode()
    second = owner_client.post(confirm, follow=True).content.decode()

    assert Backup.objects.filter(kind="automatic").count() == 1
    assert "Restored (replace): 1 cars added, 0 updated; 0 sessions added, 0 already there; 10 settings set." in first
    assert "This was confirmed already" in second and "Restored (replace): 1 cars added" in second
    job = Job.objects.get()
    assert (job.status, job.phase) == (Job.Status.DONE, Job.Phase.RUN) and not Path(job.upload).exists()


def test_an_import_confirmed_twice_imports_once(owner_client, owner, make_car, tmp_path):
    car = make_car(owner, name="Niro")
    path = write_csv(tmp_path, [session_row(), session_row(date="2025-03-05", odometer="1100")])
    upload = SimpleUploadedFile("may.csv", path.read_bytes())
    checked = owner_client.post(reverse(IMPORT), {"car": car.pk, "import_file": upload}, follow=True)

    first = owner_client.post(checked.context["confirm_url"], follow=True).content.decode()
    second = owner_client.post(checked.context["confirm_url"], follow=True).content.decode()

    assert "Imported 2 session(s) into Niro; 0 were already there." in first
    assert "This was confirmed already" in second and "Imported 2 session(s) into Niro" in second
    assert ChargingSession.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_the_same_moment_run_the_restore_once(owner, make_car, tmp_path):
    make_car(owner, name="Niro")
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(owner)
    confirm = checked_restore(clients[0], backup_create(user=owner, target=tmp_path / "mine.zip").path)
    start, pages = threading.Barrier(2), []

    def confirm_it(client):
        try:
            start.wait()
            pages.append(client.post(confirm, follow=True).content.decode())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm_it, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Backup.objects.filter(kind="automatic").count() == 1
    assert sum("This was confirmed already" in page for page in pages) == 1
    assert Job.objects.get().status == Job.Status.DONE


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_the_account_busy_can_be_confirmed_again(owner, make_car, tmp_path, settings):
    settings.PLUGTRACK_LOCK_WAIT_SECONDS = 1
    client = Client()
    client.force_login(owner)
    make_car(owner, name="Niro")
    confirm = checked_restore(client, backup_create(user=owner, target=tmp_path / "mine.zip").path)

    with AccountLockHeld(owner.pk, data_dir=tmp_path), busy_timeout_of_one_second():
        busy = client.post(confirm, follow=True)
    assert "Another import, restore or backup is running" in busy.content.decode()
    assert Job.objects.get().status == Job.Status.CHECKED and not Backup.objects.filter(kind="automatic").exists()

    done = client.post(confirm, follow=True)
    assert "Restored (replace): 1 cars added" in done.content.decode()
    assert Job.objects.get().status == Job.Status.DONE

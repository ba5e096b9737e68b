"""Jobs through the real worker: `manage.py db_worker` in its own process, on the test database
(SQLite or PostgreSQL), as production runs it."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.models import Job
from jobs.progress import progress_read
from jobs.services import job_confirm, job_start
from sessions_app.models import ChargingSession

from ..processes import AccountLockHeld, finished, manage
from ..sessions_app.csv_helpers import session_row, write_csv

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"


@pytest.fixture
def worker_settings(settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": DATABASE_BACKEND}}  # queued in the database, as in production
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    return settings


def worker(*options: str, data_dir: Path, lock_wait_seconds: float = 60, **environment: str):
    return manage(
        "db_worker", "--no-startup-delay", "--interval", "0.1", *options, data_dir=data_dir,
        lock_wait_seconds=lock_wait_seconds, PLUGTRACK_TASK_BACKEND=DATABASE_BACKEND, **environment,
    )  # fmt: skip


def import_job(owner, car, tmp_path, rows: int, phase: str) -> Job:
    lines = [
        session_row(date=f"{2000 + i // 336}-{1 + i // 28 % 12:02}-{1 + i % 28:02}", odometer=str(i))
        for i in range(rows)
    ]
    upload = SimpleUploadedFile("big.csv", write_csv(tmp_path, lines).read_bytes())
    return job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=phase, uploaded=upload, options={"car_id": car.pk}
    )


def test_the_worker_checks_an_upload_then_runs_it_once_confirmed(owner, make_car, tmp_path, worker_settings):
    car = make_car(owner)
    job = import_job(owner, car, tmp_path, rows=30, phase=Job.Phase.CHECK)
    assert job.status == Job.Status.QUEUED  # nothing runs it but the worker

    code, _, stderr = finished(worker("--batch", data_dir=worker_settings.PLUGTRACK_DATA_DIR))
    job.refresh_from_db()
    assert code == 0, stderr
    assert (job.status, job.report["inserted"]) == (Job.Status.CHECKED, 30) and not ChargingSession.objects.exists()

    assert job_confirm(job=job, options={})
    finished(worker("--batch", data_dir=worker_settings.PLUGTRACK_DATA_DIR))
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.outcome == [
        ["success", "Imported 30 session(s) into Kia Niro EV; 0 were already there."]
    ]
    assert ChargingSession.objects.filter(car=car).count() == 30


def test_an_owners_second_job_waits_behind_another_owners_first(
    owner, other_owner, make_car, tmp_path, worker_settings
):
    """One worker: alice's long import goes first (queued first), then bob's, though queued after
    alice's second: an owner's second and later jobs wait behind every other owner's first."""
    alices_car, bobs_car = make_car(owner), make_car(other_owner)
    alices_long = import_job(owner, alices_car, tmp_path, rows=3_000, phase=Job.Phase.CHECK)
    alices_second = import_job(owner, alices_car, tmp_path, rows=5, phase=Job.Phase.CHECK)
    bobs = import_job(other_owner, bobs_car, tmp_path, rows=5, phase=Job.Phase.CHECK)

    code, _, stderr = finished(worker("--batch", data_dir=worker_settings.PLUGTRACK_DATA_DIR))
    assert code == 0, stderr
    jobs = Job.objects.filter(pk__in=[alices_long.pk, alices_second.pk, bobs.pk])
    assert {job.status for job in jobs} == {Job.Status.CHECKED}
    assert list(jobs.order_by("started_at")) == [alices_long, bobs, alices_second]


def test_a_worker_killed_mid_job_leaves_the_data_as_before_and_the_job_failed(
    owner, make_car, tmp_path, worker_settings, client
):
    worker_settings.PLUGTRACK_JOB_STALE_SECONDS = 2
    car = make_car(owner)
    job = import_job(owner, car, tmp_path, rows=40_000, phase=Job.Phase.CHECK)
    finished(worker("--batch", data_dir=worker_settings.PLUGTRACK_DATA_DIR))
    job.refresh_from_db()
    assert job_confirm(job=job, options={})
    # DEBUG on, as in a developer's .env: django-tasks would then run the worker under its reloader, in a
    # child process that a kill of its parent leaves running; PlugTrack's db_worker does not.
    process = worker(data_dir=worker_settings.PLUGTRACK_DATA_DIR, DEBUG="true")
    deadline = time.monotonic() + 60
    while not ((progress := progress_read(job)) and progress.done):  # it is importing
        assert process.poll() is None and time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    time.sleep(3)  # no heartbeat for longer than PLUGTRACK_JOB_STALE_SECONDS
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # as the dead worker left it, until someone looks
    client.force_login(owner)
    listed = client.get(reverse("admin:jobs_job_changelist")).content.decode()  # the owner's jobs list
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "The worker stopped while running this" in listed
    assert "The worker stopped while running this" in job.outcome[0][1] and "nothing was changed" in job.outcome[0][1]
    assert not ChargingSession.objects.exists()  # its transaction never committed
    assert not Path(job.upload).exists()


def test_the_worker_waits_out_a_long_write_and_goes_on(owner, make_car, tmp_path, worker_settings):
    """On SQLite, a long import or restore from the command line holds the one write lock for longer
    than the worker's busy timeout while the worker looks for work: it must not stop."""
    car = make_car(owner)
    process = worker(data_dir=worker_settings.PLUGTRACK_DATA_DIR, lock_wait_seconds=0.5)
    try:
        with AccountLockHeld(owner.pk, data_dir=tmp_path):
            time.sleep(3)
        assert process.poll() is None, process.communicate()
        job = import_job(owner, car, tmp_path, rows=5, phase=Job.Phase.CHECK)
        deadline = time.monotonic() + 30
        while job.status != Job.Status.CHECKED:
            assert time.monotonic() < deadline, job.status
            time.sleep(0.1)
            job.refresh_from_db()
    finally:
        process.terminate()
        process.wait(timeout=30)

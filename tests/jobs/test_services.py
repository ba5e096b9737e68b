import datetime as dt
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, OperationalError
from django.urls import reverse
from django.utils import timezone

from jobs import services
from jobs.models import Job
from jobs.progress import ProgressWriter, progress_read
from jobs.services import job_confirm, job_execute, job_start, job_state, jobs_unconfirmed_expire, uploads_dir
from sessions_app.models import ChargingSession

from ..sessions_app.csv_helpers import session_row, write_csv


def test_an_upload_is_kept_under_the_users_folder_with_its_job(owner, make_car, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # queued, not run
    upload = SimpleUploadedFile("may.csv", b"a,b\n")
    job = job_start(user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, uploaded=upload, options={})
    path = Path(job.upload)
    assert path.parent == uploads_dir(owner) and path.suffix == ".csv" and path.read_bytes() == b"a,b\n"
    assert (job.status, job.upload_name) == (Job.Status.QUEUED, "may.csv")


def test_a_job_runs_its_phase_once(owner, make_car, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    car = make_car(owner)
    upload = SimpleUploadedFile("may.csv", write_csv(tmp_path, [session_row()]).read_bytes())
    job = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, uploaded=upload, options={"car_id": car.pk}
    )  # run at once in tests
    job.refresh_from_db()
    assert job.status == Job.Status.CHECKED and job.report["inserted"] == 1
    job_execute(str(job.token))  # the same task delivered twice: nothing happens
    job.refresh_from_db()
    assert job.status == Job.Status.CHECKED


def test_a_check_never_confirmed_within_a_day_expires_and_its_file_goes(owner, other_owner, make_car, settings,
                                                                         tmp_path):  # fmt: skip
    settings.PLUGTRACK_DATA_DIR = tmp_path

    cars = {user: make_car(user) for user in (owner, other_owner)}

    def checked(user):
        upload = SimpleUploadedFile("may.csv", write_csv(tmp_path, [session_row()]).read_bytes())
        kind, phase = Job.Kind.SESSIONS_IMPORT, Job.Phase.CHECK
        return job_start(user=user, kind=kind, phase=phase, uploaded=upload, options={"car_id": cars[user].pk})

    old, recent, theirs = checked(owner), checked(owner), checked(other_owner)
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    Job.objects.filter(pk__in=[old.pk, theirs.pk]).update(finished_at=two_days_ago)
    for written in Path(old.upload).parent.glob(f"{Path(old.upload).name}*"):  # the upload, and what its check kept
        os.utime(written, (two_days_ago.timestamp(), two_days_ago.timestamp()))

    jobs_unconfirmed_expire(user=owner)

    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "expired", recent.pk: "checked", theirs.pk: "checked"}  # another's are theirs
    assert not Path(old.upload).exists() and Path(recent.upload).exists() and Path(theirs.upload).exists()
    assert not Path(f"{old.upload}.checked").exists()  # what its check kept goes too
    old.refresh_from_db()
    assert old.finished and "Not confirmed within a day, so this check expired" in old.outcome[0][1]
    assert not job_confirm(job=old, options={})  # never run once expired
    old.refresh_from_db()
    assert old.status == Job.Status.EXPIRED


def test_the_jobs_list_and_page_say_a_check_expired(owner_client, owner, make_car, tmp_path):
    car = make_car(owner)
    upload = SimpleUploadedFile("may.csv", write_csv(tmp_path, [session_row()]).read_bytes())
    job = job_start(user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, uploaded=upload,
                    options={"car_id": car.pk})  # fmt: skip
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - dt.timedelta(days=1, minutes=1))

    listed = owner_client.get(reverse("admin:jobs_job_changelist")).content.decode()
    assert "expired (not confirmed within a day)" in listed
    page = owner_client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()
    assert "expired (not confirmed within a day)" in page and "Confirm import" not in page
    assert "there is nothing to import" not in page  # (it had something to import: it was not confirmed in time)
    response = owner_client.post(reverse("admin:jobs_job_confirm", args=[job.pk]), follow=True)
    assert "This check has expired, so nothing was run" in response.content.decode()
    assert not car.sessions.exists()


def test_a_check_stopped_by_a_question_keeps_its_file_a_day_to_be_checked_again(owner, make_car, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    car = make_car(owner)
    (tmp_path / "log.csv").write_text("Date,Mileage,Type,kWh\n03/04/2026,12480,AC,30\n")  # day/month or month/day?
    upload = SimpleUploadedFile("log.csv", (tmp_path / "log.csv").read_bytes())
    options = {"car_id": car.pk, "file_format": "spreadsheet"}
    job = job_start(user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, uploaded=upload, options=options)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.report["question"]["kind"] == "date_order"
    assert Path(job.upload).is_file()  # (a failure that is no question removes it: see above)
    assert services.job_check_again(job=job, options={"date_order": "dmy"})
    job.refresh_from_db()
    assert (job.status, job.report["inserted"], job.options["date_order"]) == (Job.Status.CHECKED, 1, "dmy")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, report={"question": {}})  # asked again, say
    job.refresh_from_db()
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - dt.timedelta(days=2))
    old = timezone.now().timestamp() - 2 * 86400
    os.utime(job.upload, (old, old))
    jobs_unconfirmed_expire(user=owner)  # a day later: the file goes, the job's outcome stays
    assert not Path(job.upload).exists() and Job.objects.filter(pk=job.pk).exists()
    assert not services.job_check_again(job=job, options={"date_order": "mdy"})  # nothing left to check


def test_a_running_job_whose_worker_stopped_beating_is_marked_failed(owner, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    settings.PLUGTRACK_JOB_STALE_SECONDS = 5
    job = Job.objects.create(user=owner, kind=Job.Kind.BACKUP_CREATE, status=Job.Status.RUNNING)
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - dt.timedelta(seconds=2))
    job.refresh_from_db()
    assert job_state(job).status == Job.Status.RUNNING  # young: its worker may be starting

    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - dt.timedelta(seconds=60))
    job.refresh_from_db()
    with ProgressWriter(job, total=10) as progress:
        progress(4)
        state = job_state(job)  # beating: alive, however long it runs
        assert (state.status, state.total) == (Job.Status.RUNNING, 10)
    assert progress_read(job) is None
    state = job_state(job)
    job.refresh_from_db()
    assert state.status == job.status == Job.Status.FAILED
    assert "The worker stopped while running this" in job.outcome[0][1]


def confirmed_import(owner, car, settings, tmp_path) -> Job:
    """An import of one row, checked and confirmed: queued to run."""
    settings.PLUGTRACK_DATA_DIR = tmp_path
    upload = SimpleUploadedFile("may.csv", write_csv(tmp_path, [session_row()]).read_bytes())
    job = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, uploaded=upload, options={"car_id": car.pk}
    )
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, phase=Job.Phase.RUN)
    return job


def test_a_run_records_its_outcome_in_the_transaction_of_its_work(owner, make_car, settings, tmp_path, monkeypatch):
    """Should recording the outcome fail after the import, the import goes too: the job never says
    "nothing was changed" of rows that were written."""
    job = confirmed_import(owner, make_car(owner), settings, tmp_path)
    finishes = []

    def outcome_lost(*args):
        finishes.append(args)
        if len(finishes) == 1:
            raise DatabaseError("disk I/O error")  # the first outcome, the import's, is not written

    monkeypatch.setattr("jobs.services.logger.info", outcome_lost)
    with pytest.raises(DatabaseError):
        job_execute(str(job.token))

    job.refresh_from_db()
    assert not ChargingSession.objects.exists()
    assert job.status == Job.Status.FAILED and job.outcome == [
        ["error", "This stopped unexpectedly; nothing was changed."]
    ]


def test_a_job_waits_for_a_busy_database_before_it_starts(owner, make_car, settings, tmp_path, monkeypatch):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # queued, not run
    car = make_car(owner)
    upload = SimpleUploadedFile("may.csv", write_csv(tmp_path, [session_row()]).read_bytes())
    job = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, uploaded=upload, options={"car_id": car.pk}
    )
    claim, busy = services._claim, [OperationalError("database is locked")] * 2

    def claim_when_free(token):
        if busy:
            raise busy.pop()
        return claim(token)

    monkeypatch.setattr(services, "_claim", claim_when_free)
    job_execute(str(job.token))
    job.refresh_from_db()
    assert not busy and job.status == Job.Status.CHECKED and job.report["inserted"] == 1


def test_a_run_whose_job_was_marked_stopped_meanwhile_is_undone(owner, make_car, settings, tmp_path, monkeypatch):
    """The job page marks a job failed ("nothing was changed") when its heartbeat looks dead (on
    PostgreSQL it can, while the run's transaction is open); should the worker in fact finish later,
    recording its outcome finds the job no longer running, and its work is undone."""
    job = confirmed_import(owner, make_car(owner), settings, tmp_path)
    monkeypatch.setattr(services, "job_outcome_record", lambda job, result, checked=False: False)  # no longer RUNNING

    job_execute(str(job.token))

    assert not ChargingSession.objects.exists()
    assert Path(job.upload).exists()  # not its to remove: the job page's marking does that

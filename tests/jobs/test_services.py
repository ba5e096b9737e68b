import datetime as dt
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jobs.models import Job
from jobs.services import job_prepare, jobs_expired_remove, uploads_dir


def test_an_upload_is_kept_under_the_users_folder_with_its_job(owner, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    job = job_prepare(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, uploaded=SimpleUploadedFile("may.csv", b"a,b\n"), options={}
    )
    path = Path(job.upload)
    assert path.parent == uploads_dir(owner) and path.suffix == ".csv" and path.read_bytes() == b"a,b\n"
    assert (job.status, job.upload_name) == (Job.Status.CHECKED, "may.csv")


def test_a_job_never_confirmed_goes_with_its_file_after_a_day(owner, other_owner, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    upload = SimpleUploadedFile("b.zip", b"x")
    old, recent = (job_prepare(user=owner, kind=Job.Kind.BACKUP_RESTORE, uploaded=upload, options={}) for _ in "ab")
    theirs = job_prepare(user=other_owner, kind=Job.Kind.BACKUP_RESTORE, uploaded=upload, options={})
    Job.objects.filter(pk__in=[old.pk, theirs.pk]).update(created_at=timezone.now() - dt.timedelta(days=2))

    jobs_expired_remove(user=owner)

    assert list(Job.objects.order_by("pk")) == [recent, theirs]  # another user's are theirs to expire
    assert not Path(old.upload).exists() and Path(recent.upload).exists() and Path(theirs.upload).exists()

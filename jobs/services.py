"""Jobs: a file an owner uploads is kept, checked, and run once on confirmation.

Confirmation is claimed in its own committed statement before the work starts, so two submits
of one confirmation (two tabs, a double click) run the work once; the second is told the first's
outcome. A job checked but never confirmed is removed with its file at the owner's first upload
a day later. Jobs that ran stay, with their outcome.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from .models import Job

logger = logging.getLogger("plugtrack.jobs")

UNCONFIRMED_LIFETIME = dt.timedelta(days=1)
Outcome = list[tuple[str, str]]  # (level: "success" | "warning" | "error", message)
T = TypeVar("T")


def uploads_dir(user: User) -> Path:
    return Path(settings.PLUGTRACK_DATA_DIR) / "uploads" / str(user.pk)


def job_prepare(*, user: User, kind: str, uploaded: UploadedFile, options: dict) -> Job:
    """Keep `uploaded` on disk (streamed, chunk by chunk) as the file of a new, unconfirmed job."""
    jobs_expired_remove(user=user)
    folder = uploads_dir(user)
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4()
    path = folder / f"{token.hex}{Path(uploaded.name).suffix[:10]}"
    with path.open("wb") as handle:
        for chunk in uploaded.chunks():
            handle.write(chunk)
    return Job.objects.create(
        token=token, user=user, kind=kind, upload=str(path), upload_name=uploaded.name[:255], options=options
    )


def job_check(
    *, user: User, kind: str, uploaded: UploadedFile, options: dict, check: Callable[[Job], T]
) -> tuple[Job, T]:
    """Keep `uploaded` as a new job and run `check(job)` on it (a dry run): (the job, its result).
    If the check raises, the job and its file go again before the error is passed on."""
    job = job_prepare(user=user, kind=kind, uploaded=uploaded, options=options)
    try:
        return job, check(job)
    except BaseException:
        job_discard(job)
        raise


def job_discard(job: Job) -> None:
    """Forget a job that will not run (its check failed, or there is nothing to confirm)."""
    Path(job.upload).unlink(missing_ok=True)
    job.delete()


def job_claim(*, user: User, token: str | uuid.UUID, kind: str) -> tuple[Job | None, bool]:
    """(the job, whether this call may run it). Only the first claim of a checked job may."""
    try:
        token = uuid.UUID(str(token))
    except ValueError:
        return None, False
    jobs = Job.objects.filter(token=token, user=user, kind=kind)
    claimed = jobs.filter(status=Job.Status.CHECKED).update(status=Job.Status.RUNNING, started_at=timezone.now())
    return jobs.first(), claimed == 1


def job_release(job: Job) -> None:
    """Make a claimed job confirmable again: it could not start (another operation held the account)."""
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(status=Job.Status.CHECKED, started_at=None)


def job_finish(job: Job, *, ok: bool, outcome: Outcome) -> None:
    """Record what the run did, and let go of its file."""
    Path(job.upload).unlink(missing_ok=True)
    job.status = Job.Status.DONE if ok else Job.Status.FAILED
    job.outcome, job.finished_at = outcome, timezone.now()
    job.save(update_fields=["status", "outcome", "finished_at"])
    logger.info("job_finished user_id=%s kind=%s token=%s status=%s", job.user_id, job.kind, job.token, job.status)


def jobs_expired_remove(*, user: User) -> None:
    """Tidy the user's jobs, at each new upload: those checked but never confirmed within
    UNCONFIRMED_LIFETIME go with their files; one still "running" that long ago stopped without
    finishing (its process was killed; its transaction never committed) and is marked so."""
    cutoff = timezone.now() - UNCONFIRMED_LIFETIME
    for job in Job.objects.filter(user=user, status=Job.Status.CHECKED, created_at__lt=cutoff):
        job_discard(job)
    for job in Job.objects.filter(user=user, status=Job.Status.RUNNING, started_at__lt=cutoff):
        job_finish(job, ok=False, outcome=[("error", "This stopped without finishing; nothing was changed.")])
    # Files whose job is gone (a crash between writing the file and recording its job).
    known = set(Job.objects.filter(user=user).values_list("upload", flat=True))
    for leftover in uploads_dir(user).glob("*"):
        try:
            if str(leftover) not in known and leftover.stat().st_mtime < cutoff.timestamp():
                leftover.unlink()
        except OSError:
            pass  # gone meanwhile (another request's sweep)

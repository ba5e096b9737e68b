"""Jobs: long work started in the admin, run by the background worker (django-tasks).

A job on an uploaded file is first checked (a dry run, in the worker), then, once the owner
confirms it, run. Each step is claimed with one committed UPDATE before it starts, so nothing
runs twice: two submits of one confirmation (two tabs, a double click) queue the run once, and
a task that a worker picks up twice finds the job claimed. An owner's second and later waiting jobs
are queued behind every other owner's first. A job checked but never confirmed within a day expires:
its file is deleted and the job stays, saying so, as jobs that ran stay with their outcome. A check
that stopped at a question the owner may answer (a date order, say) keeps its file, to be checked
again with the answer (job_check_again), for a day too.
"""

import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks.base import TASK_MIN_PRIORITY

from plugtrack_site.account_lock import AccountBusy, account_write_lock, sqlite_busy
from plugtrack_site.errors import PlugTrackError

from .kinds import KINDS, JobResult
from .models import Job
from .progress import ProgressWriter, progress_read, progress_remove

logger = logging.getLogger("plugtrack.jobs")

UNCONFIRMED_LIFETIME = dt.timedelta(days=1)
_BUSY_ATTEMPTS = 10  # each waits up to the busy timeout (PLUGTRACK_LOCK_WAIT_SECONDS)
T = TypeVar("T")


def uploads_dir(user: User) -> Path:
    return Path(settings.PLUGTRACK_DATA_DIR) / "uploads" / str(user.pk)


@dataclass(frozen=True)
class KeptUpload:
    """An upload kept on disk for a job started after the owner's next step (e.g. a mapping form)."""

    token: str  # hex: names the file, and lets the next request find it again
    path: Path
    name: str  # the file's name on the owner's computer


def upload_keep(*, user: User, uploaded: UploadedFile) -> KeptUpload:
    """Keep `uploaded` in the user's uploads folder, streamed chunk by chunk. A file no job takes
    within UNCONFIRMED_LIFETIME goes at the user's next job (jobs_unconfirmed_expire)."""
    jobs_unconfirmed_expire(user=user)
    token = uuid.uuid4().hex
    folder = uploads_dir(user)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{token}{Path(uploaded.name).suffix[:10]}"
    with path.open("wb") as handle:
        for chunk in uploaded.chunks():
            handle.write(chunk)
    return KeptUpload(token=token, path=path, name=uploaded.name[:255])


def upload_kept(*, user: User, token: str, name: str) -> KeptUpload | None:
    """The user's kept upload `token` (None when it is gone or not theirs)."""
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        return None
    path = uploads_dir(user) / f"{token}{Path(name).suffix[:10]}"
    return KeptUpload(token=token, path=path, name=name) if path.is_file() else None


def job_start(
    *, user: User, kind: str, phase: str, options: dict | None = None,
    uploaded: UploadedFile | KeptUpload | None = None,
) -> Job:  # fmt: skip
    """Record a job (keeping `uploaded` on disk, unless kept already) and queue it for the worker."""
    if isinstance(uploaded, UploadedFile):
        uploaded = upload_keep(user=user, uploaded=uploaded)
    else:
        jobs_unconfirmed_expire(user=user)
    token = uuid.UUID(uploaded.token) if uploaded else uuid.uuid4()  # a kept upload makes one job, however sent
    try:
        with transaction.atomic():
            job = Job.objects.create(
                token=token, user=user, kind=kind, phase=phase, upload=str(uploaded.path) if uploaded else "",
                upload_name=uploaded.name if uploaded else "", options=options or {},
            )  # fmt: skip
    except IntegrityError:  # the same form sent twice (a double click): the first one's job
        return Job.objects.get(token=token, user=user)
    _enqueue(job)
    return job


def job_confirm(*, job: Job, options: dict) -> bool:
    """Queue the run of a checked job, with the choices made on its confirm form. Only the
    first confirmation does: returns whether this one did."""
    claimed = Job.objects.filter(pk=job.pk, status=Job.Status.CHECKED).update(
        status=Job.Status.QUEUED, phase=Job.Phase.RUN, options=job.options | options
    )
    if claimed:
        job.refresh_from_db()
        _enqueue(job)
    return claimed == 1


def job_check_again(*, job: Job, options: dict) -> bool:
    """Queue the check of a job again, on the upload it kept, with `options` added (the answer to a
    question its check stopped at). Only a finished check whose upload is still here is checked again,
    and only by the first of two such calls: returns whether this one did."""
    if job.phase != Job.Phase.CHECK or not job.upload or not Path(job.upload).is_file():
        return False
    claimed = Job.objects.filter(
        pk=job.pk, phase=Job.Phase.CHECK, status__in=(Job.Status.CHECKED, Job.Status.FAILED)
    ).update(
        status=Job.Status.QUEUED, options=job.options | options, report=None, outcome=[], started_at=None,
        finished_at=None,
    )  # fmt: skip
    if claimed:
        job.refresh_from_db()
        _enqueue(job)
    return claimed == 1


def _enqueue(job: Job) -> None:
    """Queue the job's task, one step lower for each other job of its owner waiting or running: the
    worker takes the highest first, so an owner's second and later jobs wait behind every other
    owner's first, not the other way round. (It cannot stop a job that has started: the row limits
    bound how long one takes, and a second worker runs beside it; see docs/deployment.md.)"""
    from .tasks import job_run  # the task module imports this one

    ahead = Job.objects.filter(user_id=job.user_id, status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
    task = job_run.using(priority=max(-ahead.exclude(pk=job.pk).count(), TASK_MIN_PRIORITY))
    if task.get_backend().supports_defer:
        # Within a priority the database backend takes the earliest run_after, which is a far-off date
        # for a task queued without one (ties then in no set order): now, so the first queued goes first.
        task = task.using(run_after=timezone.now())
    task.enqueue(str(job.token))


def job_execute(token: str) -> None:
    """The worker's side: run the job's queued phase once, reporting progress, and record the result.

    A run that writes records its outcome in the same transaction as its work: a worker that dies
    before the commit leaves the data as before and the job running (the job page then sees the
    heartbeat stop and says so); one that dies after it leaves the job done.
    """
    if not _busy_database_waited_out(lambda: _claim(token)):  # already run, or marked stopped: never twice
        return
    job = Job.objects.get(token=token)
    kind = KINDS[job.kind]
    dry_run = job.phase == Job.Phase.CHECK
    answerable = False  # (its upload kept for the answer)
    try:
        with (
            ProgressWriter(job, total=kind.total(job)) as progress,
            # No user's lock here (the work takes its owner's); on SQLite this begins the one writer's transaction.
            nullcontext() if dry_run else account_write_lock(),
        ):
            result = kind.run(job, dry_run=dry_run, progress=progress)
            answerable = dry_run and result.answerable
            if not job_outcome_record(job, result, checked=dry_run and result.confirmable) and not dry_run:
                # Marked stopped meanwhile (its heartbeat looked dead): it says "nothing was changed", so undo.
                raise _MarkedStopped
    except _MarkedStopped:
        logger.error("job_undone_marked_stopped user_id=%s kind=%s token=%s", job.user_id, job.kind, job.token)
    except AccountBusy as error:
        if job.upload:  # a confirmed run that could not start: it may be confirmed again, as checked
            message = f"{error} Confirm again when it has finished."
            _busy_database_waited_out(
                lambda: Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
                    status=Job.Status.CHECKED, outcome=[("error", message)]
                )
            )
            return
        _finish_waiting(job, JobResult(ok=False, report={}, outcome=[("error", error.for_admin())]))
    except PlugTrackError as error:
        _finish_waiting(job, JobResult(ok=False, report={}, outcome=[("error", error.for_admin())]))
    except BaseException:
        _finish_waiting(job, JobResult(False, {}, [("error", "This stopped unexpectedly; nothing was changed.")]))
        raise
    finally:
        if not answerable:
            _upload_remove_once_finished(job)


class _MarkedStopped(Exception):
    """The run's job was marked stopped before its outcome could be recorded."""


def _busy_database_waited_out(write: Callable[[], T]) -> T:
    """Run a write outside any transaction. On SQLite a long write elsewhere (a command-line import)
    may hold the database past the busy timeout: wait it out a few times rather than leave the job
    queued, or running, for ever."""
    for _attempt in range(_BUSY_ATTEMPTS - 1):
        try:
            return write()
        except OperationalError as error:
            if not sqlite_busy(error):
                raise
            logger.warning("job_write_waiting_for_the_database")
    return write()


def _claim(token: str) -> bool:
    """Mark the queued job running, in one committed UPDATE."""
    claimed = Job.objects.filter(token=token, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now()
    )
    return claimed == 1


def job_outcome_record(job: Job, result: JobResult, checked: bool = False) -> bool:
    """Record the outcome of the running job; False when it was no longer running (marked stopped)."""
    status = Job.Status.CHECKED if checked else Job.Status.DONE if result.ok else Job.Status.FAILED
    finished = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=status, report=result.report, outcome=result.outcome, finished_at=timezone.now()
    )
    logger.info("job_finished user_id=%s kind=%s phase=%s status=%s", job.user_id, job.kind, job.phase, status)
    return finished == 1


def _finish_waiting(job: Job, result: JobResult) -> None:
    _busy_database_waited_out(lambda: job_outcome_record(job, result))


def _upload_remove_once_finished(job: Job) -> None:
    try:
        job.refresh_from_db(fields=["status"])
    except DatabaseError:
        return  # the database is gone (the error on its way up says so): the upload stays for a later look
    if job.upload and job.status in (Job.Status.DONE, Job.Status.FAILED):
        Path(job.upload).unlink(missing_ok=True)  # its outcome is recorded for good: no phase needs it


@dataclass
class JobState:
    """What the job page shows while a job is queued or running."""

    status: str
    done: int = 0
    total: int = 0
    elapsed_seconds: float = 0
    left_seconds: float | None = None  # estimated from the rate so far


def job_state(job: Job) -> JobState:
    """The job's progress; a running job whose worker stopped beating is marked as stopped."""
    if job.status != Job.Status.RUNNING:
        return JobState(job.status)
    progress = progress_read(job)
    elapsed = (timezone.now() - job.started_at).total_seconds()
    if elapsed > settings.PLUGTRACK_JOB_STALE_SECONDS and (
        progress is None or progress.age_seconds > settings.PLUGTRACK_JOB_STALE_SECONDS
    ):
        _worker_stopped(job)
        return JobState(job.status)
    if progress is None:
        return JobState(job.status, elapsed_seconds=elapsed)
    left = elapsed * (progress.total - progress.done) / progress.done if progress.done and progress.total else None
    return JobState(job.status, progress.done, progress.total, elapsed, left)


def _worker_stopped(job: Job) -> None:
    message = (
        "The worker stopped while running this (it was killed or restarted). Its transaction never committed, "
        "so nothing was changed. Start it again from the beginning."
    )
    if Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, outcome=[("error", message)], finished_at=timezone.now()
    ):
        if job.upload:
            Path(job.upload).unlink(missing_ok=True)
        progress_remove(job)  # what the dead worker's heartbeat left
        logger.error("job_worker_stopped user_id=%s kind=%s token=%s", job.user_id, job.kind, job.token)
    job.refresh_from_db()


def job_error_file(job: Job) -> Path | None:
    """The file of every error the job's check found, when its report names one in the owner's
    uploads folder (it goes with the other leftovers there a day later)."""
    name = (job.report or {}).get("error_file")
    if not name:
        return None
    path = Path(name)
    return path if path.parent == uploads_dir(job.user) and path.is_file() else None


EXPIRED_OUTCOME = (
    "Not confirmed within a day, so this check expired and its file was deleted: nothing was written. Upload "
    "the file again to check it afresh."
)


def jobs_unconfirmed_expire(*, user: User) -> None:
    """The user's checks never confirmed within UNCONFIRMED_LIFETIME are marked expired and their files
    deleted, with what the check kept beside them (the sweep of leftovers below), as are upload files
    whose job is gone (a crash between the two) or finished a day ago (a check's, kept for an answer to
    its question). Run at each new job and when the owner looks at their
    jobs, so a page never offers to confirm what has expired."""
    cutoff = timezone.now() - UNCONFIRMED_LIFETIME
    for job in Job.objects.filter(user=user, status=Job.Status.CHECKED, finished_at__lt=cutoff):
        # Claimed with one UPDATE, as a confirmation is: a confirmation sent meanwhile wins, and runs.
        if Job.objects.filter(pk=job.pk, status=Job.Status.CHECKED).update(
            status=Job.Status.EXPIRED, outcome=[("warning", EXPIRED_OUTCOME)]
        ):
            if job.upload:
                Path(job.upload).unlink(missing_ok=True)
            logger.info("job_expired user_id=%s kind=%s token=%s", job.user_id, job.kind, job.token)
    # An upload stays while its job may use it: not once it has expired, nor a day after its job finished (a
    # check's kept for the answer to its question).
    gone = Q(status=Job.Status.EXPIRED) | Q(status__in=(Job.Status.DONE, Job.Status.FAILED), finished_at__lt=cutoff)
    known = set(Job.objects.filter(user=user).exclude(gone).values_list("upload", flat=True))
    for leftover in uploads_dir(user).glob("*"):
        try:
            if str(leftover) not in known and leftover.stat().st_mtime < cutoff.timestamp():
                leftover.unlink()
        except OSError:
            pass  # gone meanwhile (another request's sweep)

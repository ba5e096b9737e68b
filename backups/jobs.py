"""Backups as background jobs (see jobs): a restore is checked (its dry run), then run once
confirmed; a backup is written at once."""

from pathlib import Path

from django.contrib.auth.models import User
from django.utils.dateparse import parse_datetime

from jobs.kinds import JobKind, JobResult, Progress, job_kind_register
from jobs.models import Job
from plugtrack_site.dates import moment_text
from plugtrack_site.errors import PlugTrackError
from sessions_app.imports import issues_labelled
from settings_app import crypto

from .archive import backup_session_count
from .models import BackupSchedule
from .services import RESTORE_PERMISSIONS, RestoreOptions, backup_create, backup_restore


def _passphrase(job: Job) -> str | None:
    """An encrypted backup's passphrase, as the restore form gave it (kept encrypted with the settings' keys)."""
    ciphertext = job.options.get("passphrase")
    return crypto.decrypt(ciphertext) if ciphertext else None


def backup_restore_run(job: Job, *, dry_run: bool, progress: Progress) -> JobResult:
    report = backup_restore(
        user=job.user, source=job.upload, mode=job.options["mode"],
        options=RestoreOptions(
            source_name=job.upload_name,
            dry_run=dry_run,
            progress=progress,
            passphrase=_passphrase(job),
        ),
    )  # fmt: skip
    data = report.to_dict() | {"backup_made": _made(report.backup_created_at)}
    if report.sessions:
        data["sessions"]["errors"] = issues_labelled(data["sessions"]["errors"])
    if dry_run:
        return JobResult(ok=report.ok, report=data, confirmable=report.ok)
    if not report.ok:
        return JobResult(ok=False, report=data, outcome=[("error", " ".join(report.notes))])
    sessions = report.sessions
    done = (
        f"Restored ({report.mode}): {report.cars.inserted} cars added, {report.cars.updated} updated; "
        f"{sessions.inserted} sessions added, {sessions.skipped_duplicates} already there; "
        f"{report.settings.inserted + report.settings.updated} settings set."
    )
    return JobResult(ok=True, report=data, outcome=[("success", done), *(("warning", w) for w in report.warnings)])


def _made(created_at: str) -> str:
    """When the backup was made, as every page writes a moment ("" when its manifest says nothing readable)."""
    try:
        when = parse_datetime(created_at)
    except ValueError:
        return ""
    return moment_text(when) if when and when.tzinfo else ""


# How an on-demand backup is encrypted (the create form's choice, in the job's options).
ENCRYPTED_WITH = {"saved": "your backup passphrase (the one saved for your scheduled backups)",
                  "typed": "the passphrase you typed"}  # fmt: skip


def _create_passphrase(job: Job) -> str | None:
    """The passphrase the owner chose for a backup made now: the one saved for their scheduled backups
    (read when the job runs), or the one typed on the form (as the restore's, `_passphrase`)."""
    if job.options.get("encrypt") != "saved":
        return _passphrase(job)
    schedule = BackupSchedule.objects.filter(user=job.user).exclude(passphrase="").first()
    if schedule is None:
        raise PlugTrackError("Your backup passphrase was removed meanwhile, so no backup was written. Create it again.")
    return crypto.decrypt(schedule.passphrase)


def backup_create_run(job: Job, *, dry_run: bool, progress: Progress) -> JobResult:
    try:
        backup = backup_create(user=job.user, passphrase=_create_passphrase(job))
    except PlugTrackError as error:
        return JobResult(ok=False, report={}, outcome=[("error", str(error))])
    finally:  # the typed passphrase has done its work: not kept in the job, even encrypted
        if "passphrase" in job.options:
            job.options.pop("passphrase")
            Job.objects.filter(pk=job.pk).update(options=job.options)
    counts = {"cars": backup.cars, "sessions": backup.sessions, "settings": backup.settings}
    encrypted = ENCRYPTED_WITH.get(job.options.get("encrypt", "")) if backup.encrypted else None
    said = f"Backup written{', encrypted' if encrypted else ''}: "
    done = f"{said}{backup.cars} cars, {backup.sessions} sessions, {backup.settings} settings."
    report = counts | {"file": Path(backup.path).name, "encrypted_with": encrypted}
    return JobResult(ok=True, report=report, outcome=[("success", done)])


def _may_restore(user: User, job: Job) -> bool:
    return user.has_perms(RESTORE_PERMISSIONS[job.options["mode"]])


job_kind_register(
    Job.Kind.BACKUP_RESTORE,
    JobKind(
        run=backup_restore_run,
        total=lambda job: backup_session_count(job.upload, _passphrase(job)),
        permitted=_may_restore,
        report_template="admin/jobs/backup_restore_report.html",
    ),
)
job_kind_register(
    Job.Kind.BACKUP_CREATE,
    JobKind(
        run=backup_create_run,
        total=lambda job: 0,
        permitted=lambda user, job: user.has_perm("backups.add_backup"),
        report_template="admin/jobs/backup_create_report.html",
    ),
)

"""A costs recompute as a background job (see jobs): its check is the preview, which the owner reads
before confirming; the run, once confirmed, works the costs out again and applies them (what changed
meanwhile included), with its progress on the job's page."""

import datetime as dt

from django.contrib.auth.models import User

from jobs.kinds import JobKind, JobResult, Progress, job_kind_register
from jobs.models import Job

from .costs import Selection
from .services import costs_recompute


def job_selection(job: Job) -> Selection:
    options = job.options

    def day(name: str) -> dt.date | None:
        return dt.date.fromisoformat(options[name]) if options.get(name) else None

    return Selection(user=job.user, car_id=options.get("car_id"), date_from=day("date_from"), date_to=day("date_to"))


def costs_recompute_run(job: Job, *, dry_run: bool, progress: Progress) -> JobResult:
    report = costs_recompute(selection=job_selection(job), apply=not dry_run, progress=progress)
    data = report.to_dict()
    if dry_run:
        if not report.changed:
            said = (
                f"Nothing to change: the costs of these {report.sessions:,} session(s) are as your tariffs make them."
            )
            return JobResult(ok=True, report=data, outcome=[("success", said)])
        return JobResult(ok=True, report=data, confirmable=True)
    said = f"Applied: {report.changed:,} of {report.sessions:,} session(s) changed."
    if report.recompute_id:
        said += " Cost recomputes lists it, with its undo."
    return JobResult(ok=True, report=data, outcome=[("success", said)])


def _permitted(user: User, job: Job) -> bool:
    return user.has_perm("tariffs.add_costrecompute")


job_kind_register(
    Job.Kind.COSTS_RECOMPUTE,
    JobKind(
        run=costs_recompute_run,
        total=lambda job: job_selection(job).sessions().count(),
        permitted=_permitted,
        report_template="admin/jobs/costs_recompute_report.html",
    ),
)

"""What each kind of job does. The app that owns the work (sessions_app, backups) registers its
kinds when it is ready, so that jobs knows none of them."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import User

from .models import Job

Progress = Callable[[int], None]  # told the number of rows done so far
Outcome = list[tuple[str, str]]  # (level: "success" | "warning" | "error", message)


@dataclass
class JobResult:
    ok: bool
    report: dict  # the service's report, as data, for the job page
    outcome: Outcome = field(default_factory=list)  # what to tell the owner, in a sentence or two
    confirmable: bool = False  # a check whose run the owner may now confirm
    # A check stopped by a question the owner may answer on the job's page (job_check_again): its upload
    # is kept for that, as long as a checked job's (UNCONFIRMED_LIFETIME).
    answerable: bool = False


@dataclass(frozen=True)
class JobKind:
    run: Callable[..., JobResult]  # run(job, *, dry_run: bool, progress: Progress) -> JobResult
    total: Callable[[Job], int]  # how many rows it will go through (0: unknown), for the progress bar
    permitted: Callable[[User, Job], bool]  # whether this user may start, see or confirm it
    report_template: str  # renders a JobResult.report on the job page
    confirm_options: tuple[str, ...] = ()  # choices made on the confirm form (a checkbox's name)


KINDS: dict[str, JobKind] = {}


def job_kind_register(kind: str, job_kind: JobKind) -> None:
    KINDS[kind] = job_kind

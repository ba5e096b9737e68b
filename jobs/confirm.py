"""The confirm step of the admin's uploads (sessions import, backup restore), shared by both."""

import logging
from collections.abc import Callable

from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.timezone import localtime

from plugtrack_site.account_lock import AccountBusy
from plugtrack_site.errors import PlugTrackError

from .models import Job
from .services import Outcome, job_claim, job_finish, job_release

logger = logging.getLogger("plugtrack.jobs")

LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


def job_confirm(request: HttpRequest, *, kind: str, run: Callable[[Job], tuple[bool, Outcome]]) -> Job | None:
    """Run the job the submitted token names, once, and put its outcome in the page's messages.

    `run(job)` does the work and returns (ok, outcome). A confirmation submitted again (another
    tab, a double click) does not run it twice: it is shown the outcome of the first, or told
    that the first is still running. Returns None when there is no such job of this user.
    """
    job, claimed = job_claim(user=request.user, token=request.POST.get("token", ""), kind=kind)
    if job is None:
        messages.error(request, "That upload has expired, or was never made. Upload the file again.")
        return None
    if claimed:
        try:
            ok, outcome = run(job)
        except AccountBusy as error:  # it could not start: it may be confirmed again
            job_release(job)
            messages.error(request, f"{error} Go back and confirm again.")
            return job
        except PlugTrackError as error:
            ok, outcome = False, [("error", str(error))]
        except BaseException:
            job_finish(job, ok=False, outcome=[("error", "This stopped unexpectedly; nothing was changed.")])
            raise
        try:
            job_finish(job, ok=ok, outcome=outcome)
        except DatabaseError as error:  # the work itself is done: say what it did all the same
            logger.error("job_not_recorded token=%s error=%s", job.token, error)
            job.outcome = outcome
    elif job.status == Job.Status.RUNNING:
        messages.info(
            request,
            f"This {job.get_kind_display()} was confirmed already, at {localtime(job.started_at):%H:%M:%S}, and is "
            "still running: it runs once. Reload this page in a moment.",
        )
        return job
    else:
        messages.info(
            request,
            f"This {job.get_kind_display()} was confirmed already, at {localtime(job.started_at):%H:%M:%S}, and ran "
            "once. What it did:",
        )
    for level, text in job.outcome:
        messages.add_message(request, LEVELS[level], text)
    return job

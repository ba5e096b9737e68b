"""The worker's side of statements (django-tasks; `manage.py db_worker` runs it): each hour it makes
the month before's statement for every car whose profile says "made each month" and has none for it
yet (so on the 1st, or as soon as a worker runs after it), then sends the deliveries that are due,
and queues its next run. As the backups' hourly run, the next run is also queued whenever a worker
starts."""

import datetime as dt
import logging

from django.db import close_old_connections
from django.utils import timezone
from django_tasks import task

from jobs.tasks import next_run_queue

from .compute import StatementRequest
from .delivery import statement_deliveries_send
from .models import ReimbursementProfile, Statement
from .services import statement_finalise

logger = logging.getLogger("plugtrack.statements")


def statements_monthly_make(*, today: dt.date | None = None) -> list[Statement]:
    """The month before's statements of the cars made each month that have none yet (a profile whose
    business miles are entered each month waits for them: its owner makes it)."""
    today = today or timezone.localdate()
    month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    made = []
    profiles = ReimbursementProfile.objects.filter(monthly=True).exclude(
        business_miles=ReimbursementProfile.BusinessMiles.ENTERED
    ).select_related("car", "user")
    for profile in profiles:
        if Statement.objects.filter(car=profile.car, month=month, scheme=profile.scheme).exists():
            continue
        try:
            finalised = statement_finalise(
                request=StatementRequest(user=profile.user, car=profile.car, month=month),
                made_by=Statement.MadeBy.WORKER,
            )
        except Exception:  # one car's failure leaves the others' statements to be made
            logger.exception("statement_monthly_failed car=%s month=%s", profile.car_id, month)
            continue
        made.append(finalised.statement)
    return made


@task()
def statements_hourly() -> None:
    try:
        made = statements_monthly_make()
        sent = statement_deliveries_send()
        if made or sent.delivered or sent.failed or sent.given_up:
            logger.info("statements_hourly made=%s delivered=%s failed=%s given_up=%s", len(made), sent.delivered,
                        sent.failed, sent.given_up)  # fmt: skip
    finally:
        close_old_connections()
        statements_tick_ensure()


def statements_tick_ensure() -> bool:
    """Queue the next hourly run unless one is queued already; whether one was queued."""
    next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return next_run_queue(statements_hourly, next_hour)

"""The worker's side of scheduled backups (django-tasks; `manage.py db_worker` runs it): each hour,
at the top of the hour, it makes the backups that are due, then queues its next run. A run whose
time passed while the server was off runs as soon as the worker starts again: the missed backups
are made up once. The next run is also queued whenever a worker starts (jobs.signals) and a
schedule is saved: a worker killed mid-run leaves none queued."""

import datetime as dt
import logging

from django.db import close_old_connections
from django.utils import timezone
from django_tasks import task

from .schedules import backups_run_due_and_copy

logger = logging.getLogger("plugtrack.backups")


@task()
def backups_due_run() -> None:
    try:
        backups_run_due_and_copy()
    finally:
        close_old_connections()  # (a connection the run lost is replaced, so that the next run is queued)
        backups_tick_ensure()


def backups_tick_ensure() -> bool:
    """Queue the next hourly run unless one is queued already; whether one was queued. With a
    backend that cannot run a task later (the tests' immediate one) there is nothing to queue."""
    if not backups_due_run.get_backend().supports_defer:
        return False
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult  # (the database backend's own record of a queued task)

    queued = DBTaskResult.objects.filter(task_path=backups_due_run.module_path, status=TaskResultStatus.READY)
    if queued.exists():
        return False
    next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    backups_due_run.using(run_after=next_hour).enqueue()
    logger.info("backups_due_run_queued run_after=%s", next_hour.isoformat())
    return True

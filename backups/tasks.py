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

from jobs.tasks import next_run_queue

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
    """Queue the next hourly run unless one is queued already; whether one was queued."""
    next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    if not next_run_queue(backups_due_run, next_hour):
        return False
    logger.info("backups_due_run_queued run_after=%s", next_hour.isoformat())
    return True

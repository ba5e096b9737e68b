"""The worker's daily fetch of half-hourly prices (django-tasks; `manage.py db_worker` runs it): each
day at 16:30, after Octopus publishes the next day's Agile prices (about 16:00 UK time), it fetches
them for every tariff set to fetch daily, then queues its next run. As the backups' hourly run
(backups/tasks.py), the next run is also queued whenever a worker starts."""

import datetime as dt
import logging

from django.db import close_old_connections
from django.utils import timezone
from django_tasks import task

from jobs.tasks import next_run_queue

from .octopus import tariff_prices_fetch_due

logger = logging.getLogger("plugtrack.tariffs")
DAILY_AT = dt.time(16, 30)  # the site's time zone (TIME_ZONE)


@task()
def tariff_prices_daily() -> None:
    try:
        for said in tariff_prices_fetch_due():
            logger.info("tariff_prices_daily %s", said)
    finally:
        close_old_connections()
        tariff_prices_tick_ensure()


def next_daily_run(now: dt.datetime) -> dt.datetime:
    """The next DAILY_AT (local) after `now`."""
    local = timezone.localtime(now)
    today = timezone.make_aware(dt.datetime.combine(local.date(), DAILY_AT))
    return today if today > now else timezone.make_aware(
        dt.datetime.combine(local.date() + dt.timedelta(days=1), DAILY_AT)
    )  # fmt: skip


def tariff_prices_tick_ensure() -> bool:
    """Queue the next daily run unless one is queued already; whether one was queued."""
    run_after = next_daily_run(timezone.now())
    if not next_run_queue(tariff_prices_daily, run_after):
        return False
    logger.info("tariff_prices_daily_queued run_after=%s", run_after.isoformat())
    return True

"""The background tasks (django-tasks; `manage.py db_worker` runs them): the one that runs jobs, and
how an app's recurring run (the backups' hourly, the tariffs' daily, the statements' hourly) queues
its next one."""

import datetime as dt

from django_tasks import task
from django_tasks.base import Task

from .services import job_execute


@task()
def job_run(token: str) -> None:
    job_execute(token)


def next_run_queue(recurring: Task, run_after: dt.datetime) -> bool:
    """Queue `recurring` to run at `run_after` unless a run of it is queued already; whether one was
    queued. With a backend that cannot run a task later (the tests' immediate one) nothing is."""
    if not recurring.get_backend().supports_defer:
        return False
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult  # (the database backend's own record of a queued task)

    if DBTaskResult.objects.filter(task_path=recurring.module_path, status=TaskResultStatus.READY).exists():
        return False
    recurring.using(run_after=run_after).enqueue()
    return True

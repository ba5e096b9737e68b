"""The background task that runs jobs (django-tasks; `manage.py db_worker` runs it)."""

from django_tasks import task

from .services import job_execute


@task()
def job_run(token: str) -> None:
    job_execute(token)

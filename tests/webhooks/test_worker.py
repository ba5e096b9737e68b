"""Deliveries through the real worker (`manage.py db_worker` in its own process, tasks queued in the
database as in production): the first attempt, a retry queued for its time, made once."""

import datetime as dt

import pytest
from django.utils import timezone

from plugtrack_site.events import event_happened
from webhooks.models import Delivery
from webhooks.tasks import webhook_deliver

from ..processes import finished, manage
from .conftest import signing_secret_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"


def test_the_worker_sends_a_delivery_and_its_retry_at_its_time_once(hooked, receiver, settings, tmp_path):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": DATABASE_BACKEND}}
    receiver.answers = [500]
    event_happened.send(sender=None, user_id=hooked.pk, kind="import.finished", data={"import": {"id": 1}})
    delivery = Delivery.objects.get()
    assert delivery.attempts == 0 and receiver.requests == []  # queued for the worker, not sent here

    def work() -> None:
        code, _, stderr = finished(manage("db_worker", "--batch", "--no-startup-delay", "--interval", "0.1",
                                          data_dir=tmp_path, PLUGTRACK_TASK_BACKEND=DATABASE_BACKEND))  # fmt: skip
        assert code == 0, stderr

    work()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    retry = DBTaskResult.objects.get(status="READY", task_path=webhook_deliver.module_path)  # the second attempt
    assert retry.run_after == delivery.next_attempt_at and retry.args_kwargs["args"] == [delivery.pk, 2]

    # A minute passes: the retry's time has come (and the worker's start queues it once more).
    due = timezone.now() - dt.timedelta(seconds=1)
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=due)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=due)
    work()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert len(receiver.requests) == 2
    receiver.verified(signing_secret_of(hooked), tolerance=0)

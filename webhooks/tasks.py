"""The worker's side of webhooks (django-tasks; `manage.py db_worker` runs it): each attempt of a
delivery is a task, queued for its time; a failed one queues the next."""

from django.utils import timezone
from django_tasks import task

from .models import Delivery
from .services import deliveries_waiting, delivery_attempt


@task()
def webhook_deliver(delivery_id: int, attempt: int) -> None:
    delivery = delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if delivery is not None and delivery.status == Delivery.Status.PENDING:
        delivery_queue(delivery)


def delivery_queue(delivery: Delivery) -> bool:
    """Queue the delivery's next attempt for its time; whether one was queued. A backend that cannot
    run a task later (the tests' immediate one) runs it now if its time has come, else leaves it."""
    when = delivery.next_attempt_at
    if when is None:
        return False
    due = when <= timezone.now()
    if due:
        webhook_deliver.enqueue(delivery.pk, delivery.attempts + 1)
    elif webhook_deliver.get_backend().supports_defer:
        webhook_deliver.using(run_after=when).enqueue(delivery.pk, delivery.attempts + 1)
    else:
        return False
    return True


def deliveries_waiting_queue() -> int:
    """When a worker starts: queue the next attempt of every delivery still waiting (one queued before
    and still there is then queued twice, and made once: each attempt claims its turn)."""
    return sum(delivery_queue(delivery) for delivery in deliveries_waiting())

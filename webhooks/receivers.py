"""What the webhooks listen to (connected in WebhooksConfig.ready): the apps below say what happened
(plugtrack_site.events, settings_app's signals, the worker's start) without knowing of webhooks."""

from jobs.signals import worker_started
from plugtrack_site.events import event_happened
from settings_app.models import Setting
from settings_app.sections import settings_page_section_register
from settings_app.services import keys_rotated, settings_changed

from .section import WebhooksSection
from .services import URL_KEY, delivery_record, signing_secret_ensure, signing_secrets_reencrypt
from .tasks import deliveries_waiting_queue, delivery_queue


def event_received(sender, *, user_id: int, kind: str, data: dict, **kwargs) -> None:
    """An event of an owner with a Notification URL is recorded, and its first attempt queued."""
    delivery = delivery_record(user_id=user_id, kind=kind, data=data)
    if delivery is not None:
        delivery_queue(delivery)


def url_saved(sender, *, user, keys: list[str], **kwargs) -> None:
    """A Notification URL saved (or restored) for an owner without a signing secret makes theirs."""
    if URL_KEY in keys and Setting.objects.filter(user=user, key=URL_KEY).exclude(value="").exists():
        signing_secret_ensure(user_id=user.pk)


def connect() -> None:
    event_happened.connect(event_received, dispatch_uid="webhooks_event")
    settings_changed.connect(url_saved, dispatch_uid="webhooks_url_saved")
    # The signing secrets follow a rotation of the encryption keys; a worker that starts queues what waits.
    keys_rotated.connect(lambda **kwargs: signing_secrets_reencrypt(), weak=False, dispatch_uid="webhooks_keys")
    worker_started.connect(lambda **kwargs: deliveries_waiting_queue(), weak=False, dispatch_uid="webhooks_waiting")
    settings_page_section_register("webhooks", WebhooksSection())

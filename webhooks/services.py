"""Webhooks: each event of an owner with a Notification URL becomes a Delivery, POSTed signed by the
background worker (webhooks/tasks.py) and retried with a growing wait (1, 2, 4 … minutes, at most an
hour between two attempts) until it is delivered or a day after the event, when it is given up.

Each attempt claims its turn in one conditional UPDATE (the delivery still waiting, its attempts as
the task expected, its time come), so the same attempt queued twice (a worker restarted) is made
once. The URL and the signing secret are read at each attempt: a URL changed meanwhile gets what is
still waiting, a URL removed gives it up.
"""

import datetime as dt
import logging
import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from plugtrack_site.account_lock import AccountBusy, account_write_lock
from settings_app import crypto
from settings_app.services import KeyRotationReport, setting_secret_read

from . import client
from .models import Delivery, SigningSecret

logger = logging.getLogger("plugtrack.webhooks")

URL_KEY = "notification_url"  # the owner's setting (settings_app/registry.py)
FIRST_RETRY_AFTER = dt.timedelta(minutes=1)
LONGEST_WAIT = dt.timedelta(hours=1)
GIVEN_UP_AFTER = dt.timedelta(days=1)
KEPT_PER_OWNER = 100  # deliveries kept of each owner (those still waiting are never removed)
SECRET_PREFIX = "ptwh_"


def retry_wait(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again: 1, 2, 4 … minutes, at most an hour."""
    return min(FIRST_RETRY_AFTER * 2 ** min(attempts - 1, 16), LONGEST_WAIT)


def _notification_url(user_id: int) -> str:
    try:
        return setting_secret_read(user=user_id, key=URL_KEY)
    except crypto.EncryptionKeyError:
        logger.error("webhook_url_unreadable user_id=%s", user_id)
        return ""


# --- recording -----------------------------------------------------------------------------------


def delivery_record(*, user_id: int, kind: str, data: dict, now: dt.datetime | None = None) -> Delivery | None:
    """The delivery of an event to the owner's Notification URL, waiting for its first attempt; None
    (nothing recorded) for an owner without one. Makes the owner's signing secret if they have none
    (a URL restored from a backup, say), and keeps only the owner's last KEPT_PER_OWNER deliveries."""
    if not _notification_url(user_id):
        return None
    now = now or timezone.now()
    with transaction.atomic():
        delivery = Delivery(user_id=user_id, event=kind, created_at=now, next_attempt_at=now)
        delivery.payload = {"id": str(delivery.event_id), "type": kind, "created": now.isoformat(), "data": data}
        delivery.save()
        signing_secret_ensure(user_id=user_id)
        older = Delivery.objects.filter(user_id=user_id).order_by("-created_at", "-id")[KEPT_PER_OWNER:]
        Delivery.objects.filter(pk__in=list(older.values_list("pk", flat=True))).exclude(
            status=Delivery.Status.PENDING
        ).delete()
    logger.info("webhook_recorded user_id=%s event=%s delivery_id=%s", user_id, kind, delivery.pk)
    return delivery


def deliveries_recent(*, user: User, count: int = 20) -> list[Delivery]:
    """The owner's last `count` deliveries, newest first."""
    return list(Delivery.objects.filter(user=user)[:count])


def deliveries_waiting() -> QuerySet[Delivery]:
    return Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__isnull=False)


# --- sending -------------------------------------------------------------------------------------


def delivery_attempt(*, delivery_id: int, attempt: int, now: dt.datetime | None = None) -> Delivery | None:
    """Make attempt number `attempt` of a delivery, if it is its turn (see the module's description);
    the delivery as it then is, or None when it was not its turn (made already, not due yet, done)."""
    now = now or timezone.now()
    waiting = deliveries_waiting().filter(pk=delivery_id, attempts=attempt - 1, next_attempt_at__lte=now)
    # Claimed with its retry's time: an attempt cut short (the worker killed mid-request) is made again then.
    if not waiting.update(attempts=attempt, next_attempt_at=now + retry_wait(attempt)):
        return None
    delivery = Delivery.objects.get(pk=delivery_id)
    answer = _sent(delivery, now)
    outcome = {"last_status_code": answer.status_code, "last_error": answer.error[:500]}
    if answer.ok:
        outcome |= {"status": Delivery.Status.DELIVERED, "delivered_at": now, "next_attempt_at": None}
    else:
        retry_at = now + retry_wait(attempt)
        if answer.final or retry_at > delivery.created_at + GIVEN_UP_AFTER:
            given_up = f"Given up after {attempt} attempt{'s' if attempt > 1 else ''}. {answer.error}"
            outcome |= {"status": Delivery.Status.FAILED, "next_attempt_at": None, "last_error": given_up[:500]}
        else:
            outcome |= {"next_attempt_at": retry_at}
    Delivery.objects.filter(pk=delivery_id, attempts=attempt).update(**outcome)
    delivery.refresh_from_db()
    log = logger.info if answer.ok else logger.warning if delivery.status == Delivery.Status.PENDING else logger.error
    log(
        "webhook_attempt user_id=%s delivery_id=%s event=%s attempt=%d status=%s http_status=%s",
        delivery.user_id, delivery.pk, delivery.event, attempt, delivery.status, answer.status_code,
    )  # fmt: skip
    return delivery


def _sent(delivery: Delivery, now: dt.datetime) -> client.Answer:
    url = _notification_url(delivery.user_id)
    if not url:
        return client.Answer(None, "There is no Notification URL any more (or it cannot be read).", final=True)
    try:
        secret = _signing_secret(delivery.user_id)
    except crypto.EncryptionKeyError:
        return client.Answer(
            None, "The signing secret cannot be read with the configured keys: make a new one on the settings page."
        )
    return client.post_signed(
        url=url, payload=delivery.payload, secret=secret, timestamp=int(now.timestamp()),
        headers={"PlugTrack-Event": delivery.event, "PlugTrack-Delivery": str(delivery.event_id)},
    )  # fmt: skip


def deliveries_due_send(*, now: dt.datetime | None = None) -> list[Delivery]:
    """Make the next attempt of every delivery whose time has come, here and now (what the worker's
    queued attempts do, each at its time); the deliveries attempted."""
    now = now or timezone.now()
    attempted = []
    for delivery_id, attempts in deliveries_waiting().filter(next_attempt_at__lte=now).values_list("pk", "attempts"):
        if (delivery := delivery_attempt(delivery_id=delivery_id, attempt=attempts + 1, now=now)) is not None:
            attempted.append(delivery)
    return attempted


# --- the signing secret --------------------------------------------------------------------------


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _signing_secret(user_id: int) -> str:
    """The owner's signing secret in clear, made now if they have none (it is then shown on their page)."""
    signing_secret_ensure(user_id=user_id)
    return crypto.decrypt(SigningSecret.objects.get(user_id=user_id).secret)


def signing_secret_ensure(*, user_id: int) -> bool:
    """Make the owner's signing secret unless they have one; whether one was made."""
    _, made = SigningSecret.objects.get_or_create(user_id=user_id, defaults={"secret": crypto.encrypt(_new_secret())})
    if made:
        logger.info("webhook_signing_secret_made user_id=%s", user_id)
    return made


def signing_secret_new(*, user: User) -> None:
    """Replace the owner's signing secret with a new one (shown once on their page): deliveries are
    signed with it from now on, those waiting for a retry too."""
    SigningSecret.objects.update_or_create(
        user=user, defaults={"secret": crypto.encrypt(_new_secret()), "created_at": timezone.now(), "shown_at": None}
    )
    logger.info("webhook_signing_secret_replaced user_id=%s", user.pk)


def signing_secret_reveal(*, user: User) -> str | None:
    """The owner's signing secret in clear if it was never shown, marked shown in one conditional UPDATE
    (two pages at once: one shows it); None once shown, when there is none, or when no key can read it."""
    signing_secret = SigningSecret.objects.filter(user=user, shown_at__isnull=True).first()
    if signing_secret is None or not crypto.readable(signing_secret.secret):
        return None
    unshown = SigningSecret.objects.filter(pk=signing_secret.pk, secret=signing_secret.secret, shown_at__isnull=True)
    return crypto.decrypt(signing_secret.secret) if unshown.update(shown_at=timezone.now()) else None


def signing_secrets_reencrypt() -> KeyRotationReport:
    """After the encryption keys are rotated (settings_app.keys_rotated): every signing secret under the
    newest key, each under its owner's write lock (as their secret settings). Those no key can read, and
    the owners found busy, are left, and named in the rotation's report."""
    report = KeyRotationReport(reencrypted=0, unreadable=[], busy=[])
    for signing_secret in SigningSecret.objects.select_related("user").order_by("user_id"):
        username = signing_secret.user.username
        try:
            with account_write_lock(signing_secret.user_id):
                ciphertext = SigningSecret.objects.get(pk=signing_secret.pk).secret  # (as it is under the lock)
                SigningSecret.objects.filter(pk=signing_secret.pk).update(secret=crypto.reencrypt(ciphertext))
        except crypto.EncryptionKeyError:
            logger.error("webhook_signing_secret_unreadable user=%s", username)
            report.unreadable.append((username, "webhook signing secret"))
        except AccountBusy:
            report.busy.append(username)
        else:
            report.reencrypted += 1
    return report

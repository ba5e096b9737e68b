"""Finalised statements sent where the owner asked: by e-mail (Django's mail, the server from
EMAIL_URL) with the PDF and CSV attached, and to the off-site storage (STORAGES["offsite"], the
backups' S3-compatible bucket). Each sending is recorded (`StatementDelivery`) when the statement is
finalised and sent by the worker; a failure is recorded with its error and tried again after a
growing wait (5 minutes, doubled each time, at most 6 hours) until it goes or a week has passed, and
then given up, shown as such, and sent again when asked. Nothing is lost: the statement stays as it
was, whatever happens to its sending."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from .models import ReimbursementProfile, Statement, StatementDelivery

logger = logging.getLogger("plugtrack.statements")
FIRST_WAIT = dt.timedelta(minutes=5)
LONGEST_WAIT = dt.timedelta(hours=6)
GIVE_UP_AFTER = dt.timedelta(days=7)
Channel, Status = StatementDelivery.Channel, StatementDelivery.Status


def offsite_configured() -> bool:
    return "offsite" in settings.STORAGES


def statement_deliveries_record(*, statement: Statement) -> list[StatementDelivery]:
    """The sendings a newly finalised statement is owed: e-mail to its car's profile's addresses (when
    EMAIL_URL is set), and a copy off-site (when the storage is configured)."""
    profile = ReimbursementProfile.objects.filter(car_id=statement.car_id).first()
    now = timezone.now()
    made = []
    if profile and profile.email_addresses and settings.EMAIL_URL:
        made.append(StatementDelivery(statement=statement, channel=Channel.EMAIL,
                                      target=", ".join(profile.email_addresses), next_attempt_at=now))  # fmt: skip
    if offsite_configured():
        made.append(StatementDelivery(statement=statement, channel=Channel.OFFSITE,
                                      target=f"statements/{statement.user_id}/{statement.file_stem}",
                                      next_attempt_at=now))  # fmt: skip
    return StatementDelivery.objects.bulk_create(made)


@dataclass
class SendReport:
    delivered: int = 0
    failed: int = 0  # tried and failed this time (to be tried again)
    given_up: int = 0


def statement_deliveries_send(*, now: dt.datetime | None = None) -> SendReport:
    """Send every delivery that is due; record each outcome."""
    now = now or timezone.now()
    report = SendReport()
    due = StatementDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).select_related("statement")
    for delivery in list(due.order_by("next_attempt_at", "id")[:500]):
        try:
            _send(delivery)
        except Exception as error:  # noqa: BLE001 - any failure of the server or the network is recorded
            _failed(delivery, error, now, report)
            continue
        delivery.status, delivery.delivered_at, delivery.last_error = Status.DELIVERED, timezone.now(), ""
        delivery.attempts += 1
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "delivered_at", "last_error", "attempts", "next_attempt_at"])
        report.delivered += 1
        logger.info("statement_delivered id=%s channel=%s statement=%s", delivery.pk, delivery.channel,
                    delivery.statement_id)  # fmt: skip
    return report


def _failed(delivery: StatementDelivery, error: Exception, now: dt.datetime, report: SendReport) -> None:
    delivery.attempts += 1
    delivery.last_error = f"{type(error).__name__}: {error}"[:500]
    if now - delivery.created_at >= GIVE_UP_AFTER:
        delivery.status, delivery.next_attempt_at = Status.FAILED, None
        report.given_up += 1
    else:
        delivery.next_attempt_at = now + min(FIRST_WAIT * 2 ** (delivery.attempts - 1), LONGEST_WAIT)
        report.failed += 1
    delivery.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    logger.warning("statement_delivery_failed id=%s channel=%s attempts=%s error=%s", delivery.pk, delivery.channel,
                   delivery.attempts, delivery.last_error)  # fmt: skip


def _send(delivery: StatementDelivery) -> None:
    statement = delivery.statement
    if delivery.channel == Channel.EMAIL:
        message = EmailMessage(
            subject=f"Charging reimbursement: {statement.car_name}, {statement.month:%B %Y}",
            body=(f"The statement for {statement.car_name}, {statement.month:%B %Y} "
                  f"({statement.get_scheme_display()}), version {statement.version}: claim "
                  f"{'€' if statement.currency == 'EUR' else '£'}{statement.claim:,.2f}.\n\n"
                  f"SHA-256 of its content: {statement.content_sha256}\n"),
            to=[address.strip() for address in delivery.target.split(",")],
        )  # fmt: skip
        message.attach(f"{statement.file_stem}.csv", bytes(statement.csv), "text/csv")
        if statement.pdf:
            message.attach(f"{statement.file_stem}.pdf", bytes(statement.pdf), "application/pdf")
        message.send(fail_silently=False)
        return
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    storage = storages["offsite"]
    for kind in ("csv", "html", "pdf"):
        data = getattr(statement, kind)
        if data:
            storage.save(f"{delivery.target}.{kind}", ContentFile(bytes(data)))
    storage.save(f"{delivery.target}.json", ContentFile(statement.content.encode()))


def statement_delivery_retry(*, delivery: StatementDelivery) -> None:
    """Send a delivery again (one given up, or one waiting): due at once, its attempts kept."""
    with transaction.atomic():
        delivery.status, delivery.next_attempt_at = Status.PENDING, timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at"])

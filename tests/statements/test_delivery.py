"""Delivery of finalised statements: e-mail through a real SMTP server on 127.0.0.1 and the off-site
storage; a failure recorded, tried again later, given up after a week, sent again when asked; the
statement itself never touched. And the worker's monthly run."""

import datetime as dt
import hashlib
import socket
from decimal import Decimal

import pytest
from django.utils import timezone

from settings_app.services import settings_update
from statements.delivery import statement_deliveries_send, statement_delivery_retry
from statements.models import ReimbursementProfile, Statement, StatementDelivery
from statements.services import statement_finalise
from statements.tasks import statements_monthly_make

from ..webhooks.conftest import receiver, signing_secret_of  # noqa: F401 (receiver: a fixture)
from .smtp_server import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def email_to(owner, may_car, settings):
    settings.EMAIL_URL = "smtp://127.0.0.1"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = 5
    return ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="uk-aer", employer="Acme Ltd",
                                               email_to="claims@acme.example, me@home.example")  # fmt: skip


def test_a_finalised_statement_is_emailed_with_its_pdf_and_csv(email_to, may, smtp, settings):
    settings.EMAIL_PORT = smtp.port
    statement = statement_finalise(request=may(scheme=None, business_miles=Decimal(812))).statement
    delivery = StatementDelivery.objects.get(statement=statement)
    assert delivery.channel == "email" and delivery.status == "pending"
    report = statement_deliveries_send()
    assert report.delivered == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1
    [message] = smtp.messages
    assert message["to"] == ["claims@acme.example", "me@home.example"]
    assert b"claim \xc2\xa373.08" in message["data"] or b"73.08" in message["data"]
    assert f"{statement.file_stem}.pdf".encode() in message["data"]
    assert f"{statement.file_stem}.csv".encode() in message["data"]


def test_smtp_refused_is_recorded_retried_then_sent_and_nothing_is_lost(email_to, may, smtp, settings):
    settings.EMAIL_PORT = free_port()  # nobody listens there: the connection is refused
    statement = statement_finalise(request=may(scheme=None, business_miles=Decimal(812))).statement
    kept = (statement.content, bytes(statement.pdf))
    report = statement_deliveries_send()
    assert report.failed == 1 and report.delivered == 0
    delivery = StatementDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and "refused" in delivery.last_error.lower()
    assert delivery.next_attempt_at > timezone.now()
    assert statement_deliveries_send().failed == 0  # not due yet
    settings.EMAIL_PORT = smtp.port  # the server is back
    assert statement_deliveries_send(now=delivery.next_attempt_at).delivered == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2 and len(smtp.messages) == 1
    statement.refresh_from_db()
    assert (statement.content, bytes(statement.pdf)) == kept


def test_given_up_after_a_week_then_sent_again_when_asked(email_to, may, smtp, settings):
    settings.EMAIL_PORT = free_port()
    statement_finalise(request=may(scheme=None, business_miles=Decimal(812)))
    delivery = StatementDelivery.objects.get()
    assert statement_deliveries_send(now=delivery.created_at + dt.timedelta(days=8)).given_up == 1
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    settings.EMAIL_PORT = smtp.port
    statement_delivery_retry(delivery=delivery)
    assert statement_deliveries_send().delivered == 1 and len(smtp.messages) == 1


def test_nothing_is_emailed_without_email_url(owner, may_car, may):
    ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="uk-aer", employer="Acme",
                                        email_to="claims@acme.example")  # fmt: skip
    statement_finalise(request=may(scheme=None))
    assert not StatementDelivery.objects.exists()


def test_the_off_site_copy(owner, may_car, may, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "offsite": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "off")}}}
    statement = statement_finalise(request=may(business_miles=Decimal(812))).statement
    assert statement_deliveries_send().delivered == 1
    folder = tmp_path / "off" / "statements" / str(owner.pk)
    assert (folder / f"{statement.file_stem}.pdf").read_bytes() == bytes(statement.pdf)
    assert (folder / f"{statement.file_stem}.json").read_text() == statement.content


def test_the_monthly_run_makes_last_months_statement_once(owner, may_car):
    ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="de-kwh", employer="Acme GmbH")
    [statement] = statements_monthly_make(today=dt.date(2026, 6, 1))
    assert statement.made_by == "worker" and statement.month == dt.date(2026, 5, 1)
    assert statement.claim == Decimal("61.20") and statement.currency == "EUR"
    assert statements_monthly_make(today=dt.date(2026, 6, 1)) == []
    assert Statement.objects.count() == 1


def test_the_monthly_run_waits_for_entered_business_miles(owner, may_car):
    ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="uk-aer", employer="Acme",
                                        business_miles=ReimbursementProfile.BusinessMiles.ENTERED)  # fmt: skip
    assert statements_monthly_make(today=dt.date(2026, 6, 1)) == []


def test_the_hourly_task_makes_the_month_befores_statements(owner, may_car, monkeypatch):
    from statements import tasks

    ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="uk-aer", employer="Acme")
    monkeypatch.setattr(tasks.timezone, "localdate", lambda: dt.date(2026, 6, 1))
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)  # (it would close the test's connection)
    tasks.statements_hourly.enqueue()  # (the tests' backend runs it at once)
    statement = Statement.objects.get()
    assert statement.month == dt.date(2026, 5, 1) and statement.made_by == "worker"
    assert statement.claim == Decimal("73.08")  # all May's 812 miles, as the profile says


def test_send_again_from_the_statements_list(owner_client, email_to, may, smtp, settings):
    from django.urls import reverse

    settings.EMAIL_PORT = free_port()
    statement = statement_finalise(request=may(scheme=None)).statement
    delivery = StatementDelivery.objects.get()
    statement_deliveries_send(now=delivery.created_at + dt.timedelta(days=8))
    page = owner_client.get(reverse("admin:statements_statement_change", args=[statement.pk]))
    assert "given up" in page.content.decode()
    owner_client.post(reverse("admin:statements_statement_changelist"),
                      {"action": "send_again", "_selected_action": [statement.pk]})  # fmt: skip
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    settings.EMAIL_PORT = smtp.port
    assert statement_deliveries_send().delivered == 1


def test_a_finalised_statement_is_told_to_the_owners_webhook_once(owner, may, receiver,  # noqa: F811 (the fixture)
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    settings_update(user=owner, values={"notification_url": receiver.url})
    with django_capture_on_commit_callbacks(execute=True):
        statement = statement_finalise(request=may()).statement
        statement_finalise(request=may())  # unchanged: the same version, nothing new to tell
    [event] = receiver.verified(signing_secret_of(owner))
    told = event["data"]["statement"]
    assert event["type"] == "statement.finalised"
    assert (told["id"], told["month"], told["scheme"], told["version"], told["claim"], told["currency"]) == (
        statement.pk, "2026-05", "uk-aer", 1, "73.08", "GBP")  # fmt: skip
    assert told["sha256"]["pdf"] == statement.pdf_sha256 == hashlib.sha256(bytes(statement.pdf)).hexdigest()

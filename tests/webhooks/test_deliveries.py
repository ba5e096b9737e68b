"""Webhooks (issue 23, point 4): each event posted signed to the owner's Notification URL, a local
receiver checking the signature with the docs' own function; retried with time moved, not slept."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.services import api_token_create
from backups.schedules import SchedulePlan, backups_run_due, schedule_save
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from settings_app.services import settings_update
from webhooks.models import Delivery, SigningSecret
from webhooks.services import deliveries_due_send, retry_wait

from ..sessions_app.csv_helpers import session_row, write_csv
from .conftest import signing_secret_of


def add_in_the_admin(client, car, **fields) -> None:
    data = {"car": car.pk, "date": "2026-12-07", "odometer": "12601", "charge_type": "AC",
            "charge_delivered_kwh": "30.5", "location_label": "Home", "cost_per_kwh": "0.075"} | fields  # fmt: skip
    response = client.post(reverse("admin:sessions_app_chargingsession_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_session_added_in_the_admin_is_posted_once_signed(hooked, owner_client, make_car, receiver,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    car = make_car(hooked, name="Niro")
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, car)

    [event] = receiver.verified(signing_secret_of(hooked))
    [request] = receiver.requests
    assert request.path == "/hooks/plugtrack"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["PlugTrack-Event"] == "session.created" == event["type"]
    assert request.headers["PlugTrack-Delivery"] == event["id"]
    assert event["data"]["count"] == 1 and event["data"]["car"] == {"id": car.pk, "name": "Niro"}
    session = event["data"]["session"]
    assert (session["date"], session["odometer"], session["kwh"], session["cost_per_kwh"]) == (
        "2026-12-07", 12601, "30.5", "0.075"
    )
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.next_attempt_at) == (
        "delivered", 1, 200, None
    )
    assert delivery.user == hooked and delivery.delivered_at


def test_an_edit_in_the_admin_sends_nothing(hooked, owner_client, make_car, make_session, receiver,
                                            django_capture_on_commit_callbacks):  # fmt: skip
    session = make_session(make_car(hooked), "2026-12-01", 100)
    url = reverse("admin:sessions_app_chargingsession_change", args=[session.pk])
    data = {"car": session.car_id, "date": "2026-12-01", "odometer": "100", "charge_type": "AC",
            "charge_delivered_kwh": "31"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(url, data).status_code == 302
    assert receiver.requests == [] and not Delivery.objects.exists()


def test_a_signature_made_with_another_secret_is_refused_by_the_docs_check(
    hooked, make_car, owner_client, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, make_car(hooked))
    with pytest.raises(ValueError, match="not signed with this secret"):
        receiver.verified("ptwh_someone-elses")
    request = receiver.requests[0]
    tampered = request.body.replace(b'"count":1', b'"count":2')
    from .conftest import plugtrack_event

    with pytest.raises(ValueError, match="not signed with this secret"):
        plugtrack_event(signing_secret_of(hooked), request.headers, tampered)


def test_an_import_sends_one_session_created_with_its_counts_and_one_import_finished(
    hooked, make_car, make_session, receiver, tmp_path, django_capture_on_commit_callbacks
):
    car = make_car(hooked, name="Niro")
    make_session(car, "2025-03-01", 1000, "30.5")  # the file's first row is stored already
    rows = [session_row(date=f"2025-03-{day:02}", odometer=str(1000 + 40 * (day - 1))) for day in range(1, 31)]
    path = write_csv(tmp_path, rows)
    with django_capture_on_commit_callbacks(execute=True):
        report = charging_sessions_import(user=hooked, car=car, source=path)
    assert report.inserted == 29

    created, finished = receiver.verified(signing_secret_of(hooked))  # 29 sessions: one event, not 29
    counts = {"id": report.batch_id, "file": "may.csv", "format": "plugtrack", "car": {"id": car.pk, "name": "Niro"},
              "rows_read": 30, "inserted": 29, "skipped_duplicates": 1, "errors": 0}  # fmt: skip
    assert created["type"] == "session.created" and created["data"] == {"count": 29, "car": counts["car"],
                                                                         "import": counts}  # fmt: skip
    assert finished["type"] == "import.finished" and finished["data"] == {"import": counts}
    assert list(Delivery.objects.order_by("id").values_list("event", "status")) == [
        ("session.created", "delivered"), ("import.finished", "delivered")
    ]

    with django_capture_on_commit_callbacks(execute=True):  # again: every row a duplicate, nothing created
        charging_sessions_import(user=hooked, car=car, source=path)
    assert [event["type"] for event in receiver.verified(signing_secret_of(hooked))][2:] == ["import.finished"]


def test_a_dry_run_and_a_refused_import_send_nothing(hooked, make_car, receiver, tmp_path,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    car = make_car(hooked)
    good = write_csv(tmp_path, [session_row()], name="good.csv")
    rows = [session_row(), session_row(odometer="1100", charge_delivered_kwh="lots")]
    bad = write_csv(tmp_path, rows, name="bad.csv")
    with django_capture_on_commit_callbacks(execute=True):
        charging_sessions_import(user=hooked, car=car, source=good, options=ImportOptions(dry_run=True))
        report = charging_sessions_import(user=hooked, car=car, source=bad)
    assert report.inserted == 0 and report.error_count == 1
    assert receiver.requests == [] and not Delivery.objects.exists()


def test_no_url_nothing_sent_nor_recorded(owner, other_owner, make_car, tmp_path, receiver,
                                          django_capture_on_commit_callbacks):  # fmt: skip
    settings_update(user=other_owner, values={"notification_url": receiver.url})  # bob has one, alice none
    with django_capture_on_commit_callbacks(execute=True):
        charging_sessions_import(user=owner, car=make_car(owner), source=write_csv(tmp_path, [session_row()]))
    assert receiver.requests == [] and not Delivery.objects.exists()
    assert not SigningSecret.objects.filter(user=owner).exists()


def test_a_500_is_tried_again_after_a_minute_and_then_delivered(hooked, make_car, owner_client, receiver,
                                                                django_capture_on_commit_callbacks):  # fmt: skip
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, make_car(hooked))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error.startswith("HTTP 500: Internal trouble: xxx") and len(delivery.last_error) <= 220
    waited = delivery.next_attempt_at - delivery.created_at
    assert dt.timedelta(minutes=1) <= waited < dt.timedelta(minutes=1, seconds=10)

    assert deliveries_due_send(now=delivery.next_attempt_at - dt.timedelta(seconds=1)) == []  # not yet
    [retried] = deliveries_due_send(now=delivery.next_attempt_at)
    assert (retried.status, retried.attempts, retried.last_status_code, retried.last_error) == ("delivered", 2, 200, "")
    first, second = receiver.requests
    assert first.body == second.body and first.headers["PlugTrack-Delivery"] == second.headers["PlugTrack-Delivery"]
    assert int(second.headers["PlugTrack-Timestamp"]) > int(first.headers["PlugTrack-Timestamp"])
    receiver.verified(signing_secret_of(hooked), tolerance=0)  # both signed, each with its own timestamp
    assert deliveries_due_send(now=timezone.now() + dt.timedelta(days=2)) == []  # delivered: never again


def test_a_receiver_that_keeps_failing_is_given_up_after_a_day(hooked, make_car, owner_client, receiver,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    receiver.answers = [503] * 100
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, make_car(hooked))
    delivery = Delivery.objects.get()
    times = [delivery.created_at]
    while delivery.status == "pending":
        times.append(delivery.next_attempt_at)
        [delivery] = deliveries_due_send(now=delivery.next_attempt_at)
    previous = times[-1]  # the last attempt's
    minutes = [(later - earlier) / dt.timedelta(minutes=1) for earlier, later in zip(times, times[1:], strict=False)]
    assert minutes[:8] == pytest.approx([1, 2, 4, 8, 16, 32, 60, 60], abs=0.02)  # then hourly
    assert delivery.status == "failed" and delivery.attempts == len(receiver.requests) == 29
    assert delivery.next_attempt_at is None and delivery.last_status_code == 503
    assert delivery.last_error.startswith("Given up after 29 attempts. HTTP 503")
    assert previous - delivery.created_at <= dt.timedelta(days=1)
    assert deliveries_due_send(now=previous + dt.timedelta(days=3)) == [] and len(receiver.requests) == 29


def test_the_same_attempt_queued_twice_is_made_once(hooked, make_car, owner_client, receiver,
                                                    django_capture_on_commit_callbacks):  # fmt: skip
    from webhooks.services import delivery_attempt

    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, make_car(hooked))
    delivery = Delivery.objects.get()
    later = delivery.next_attempt_at
    assert delivery_attempt(delivery_id=delivery.pk, attempt=2, now=later).status == "delivered"
    assert delivery_attempt(delivery_id=delivery.pk, attempt=2, now=later) is None
    assert len(receiver.requests) == 2


def test_a_url_removed_meanwhile_gives_the_waiting_delivery_up(hooked, make_car, owner_client, receiver,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, make_car(hooked))
    settings_update(user=hooked, values={"notification_url": ""})
    [delivery] = deliveries_due_send(now=Delivery.objects.get().next_attempt_at)
    assert delivery.status == "failed" and "no Notification URL any more" in delivery.last_error
    assert len(receiver.requests) == 1


def test_the_backoff_doubles_from_a_minute_to_an_hour():
    assert [retry_wait(n) / dt.timedelta(minutes=1) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


@pytest.fixture
def scheduled(hooked, make_car, make_session):
    make_session(make_car(hooked, name="Niro"), "2025-01-01", 1000)
    schedule_save(user=hooked, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    return hooked


def test_a_scheduled_backup_verified_is_told_as_backup_verified(scheduled, receiver,
                                                                django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        [run] = backups_run_due(now=timezone.now() + dt.timedelta(days=1))
    assert run.verified
    [event] = receiver.verified(signing_secret_of(scheduled))
    assert event["type"] == "backup.verified" and "error" not in event["data"]
    assert event["data"]["slot"] == run.slot and event["data"]["redone"] is False
    backup = event["data"]["backup"]
    assert (backup["id"], backup["kind"], backup["sessions"], backup["encrypted"]) == (run.backup_id, "scheduled", 1,
                                                                                       False)  # fmt: skip
    assert "/" not in backup["file"] and backup["file"].endswith(".zip")  # its name, not the server's folders


def test_a_scheduled_backup_that_fails_its_verification_is_told_as_backup_failed(
    scheduled, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("backups.schedules.backup_verify", lambda backup, passphrase: "sessions.csv does not match")
    with django_capture_on_commit_callbacks(execute=True):
        [run] = backups_run_due(now=timezone.now() + dt.timedelta(days=1))
    [event] = receiver.verified(signing_secret_of(scheduled))
    assert event["type"] == "backup.failed" and event["data"]["backup"]["id"] == run.backup_id
    assert event["data"]["error"] == run.error and "failed its verification: sessions.csv does not match" in run.error


def test_a_scheduled_backup_that_cannot_be_written_is_told_as_backup_failed(
    scheduled, receiver, settings, django_capture_on_commit_callbacks
):
    from cryptography.fernet import Fernet

    from backups.models import BackupSchedule
    from settings_app import crypto

    # An encrypted schedule whose passphrase no configured key can read any more: no backup is written.
    BackupSchedule.objects.filter(user=scheduled).update(encrypt=True, passphrase=Fernet(Fernet.generate_key())
                                                         .encrypt(b"correct horse battery").decode())  # fmt: skip
    assert not crypto.readable(BackupSchedule.objects.get().passphrase)
    with django_capture_on_commit_callbacks(execute=True):
        [run] = backups_run_due(now=timezone.now() + dt.timedelta(days=1))
    [event] = receiver.verified(signing_secret_of(scheduled))
    assert event["type"] == "backup.failed" and event["data"]["backup"] is None
    assert "could not be written" in event["data"]["error"] == run.error


def test_an_event_is_told_only_once_committed(hooked, make_car, tmp_path, receiver,
                                              django_capture_on_commit_callbacks):  # fmt: skip
    from django.db import transaction

    car = make_car(hooked)
    path = write_csv(tmp_path, [session_row()])
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        charging_sessions_import(user=hooked, car=car, source=path)
        raise RuntimeError("rolled back after the import")
    assert receiver.requests == [] and not Delivery.objects.exists()


def test_deliveries_are_kept_per_owner_up_to_a_limit(hooked, receiver, monkeypatch):
    from plugtrack_site.events import event_happened
    from webhooks import services

    monkeypatch.setattr(services, "KEPT_PER_OWNER", 3)
    for number in range(5):
        event_happened.send(sender=None, user_id=hooked.pk, kind="import.finished", data={"number": number})
    assert [delivery.payload["data"]["number"] for delivery in Delivery.objects.all()] == [4, 3, 2]
    assert len(receiver.requests) == 5


def test_the_kwh_in_a_payload_is_text_as_the_csv_writes_it(hooked, make_car, owner_client, receiver,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        add_in_the_admin(owner_client, make_car(hooked), charge_delivered_kwh="30.500", total_cost_gbp="2.29")
    [event] = receiver.verified(signing_secret_of(hooked))
    assert event["data"]["session"]["kwh"] == "30.5" and event["data"]["session"]["total_cost_gbp"] == "2.29"
    assert Decimal(event["data"]["session"]["kwh"]) == Decimal("30.5")


def test_each_session_posted_to_the_api_is_told_as_one_session_created(
    hooked, make_car, receiver, django_capture_on_commit_callbacks
):
    car = make_car(hooked, name="Niro")
    secret = api_token_create(user=hooked, name="Wallbox", scopes=["sessions:write"], car_ids=[], expires_days=9).secret
    client = Client(REMOTE_ADDR="192.0.2.10")
    for key, odometer in (("a", 12480), ("b", 12610)):
        body = {"car": car.pk, "date": "2026-03-01", "odometer": odometer, "charge_type": "AC",
                "charge_delivered_kwh": 30.5, "cost_per_kwh": 0.075}  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/sessions", body, content_type="application/json",
                                   headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key})  # fmt: skip
        assert response.status_code == 201, response.content

    events = receiver.verified(signing_secret_of(hooked))
    assert [event["type"] for event in events] == ["session.created", "session.created"]  # no import.finished
    assert [(event["data"]["count"], event["data"]["session"]["odometer"]) for event in events] == [
        (1, 12480), (1, 12610)
    ]  # fmt: skip

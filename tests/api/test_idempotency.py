"""Idempotency-Key, with Stripe's semantics: the same key and body get the first answer again, byte for
byte; another body with the key is 422; a key whose first request is still being answered is 409; and
20 identical POSTs from parallel processes store one session."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from api.models import IdempotencyKey
from plugtrack_site.account_lock import AccountBusy
from sessions_app.imports.batches import import_batch_undo
from sessions_app.models import ChargingSession, ImportBatch

from ..processes import finished, python_module
from .conftest import session_json


@pytest.fixture
def token_and_api(owner, niro, make_token, api_as):
    token, secret = make_token(owner)
    return token, api_as(secret)


@pytest.fixture
def api(token_and_api):
    return token_and_api[1]


def test_the_same_post_twice_stores_one_session_and_replays_the_first_answer_byte_for_byte(api, niro):
    first = api.post("/sessions", session_json(niro), key="charge-2026-03-01T06:30")
    again = api.post("/sessions", session_json(niro), key="charge-2026-03-01T06:30")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again["Location"] == first["Location"] and again["Content-Type"] == first["Content-Type"]
    assert ChargingSession.objects.count() == 1 and ImportBatch.objects.get().inserted == 1


def test_the_same_key_with_another_body_is_422_and_changes_nothing(api, niro):
    assert api.post("/sessions", session_json(niro), key="k").status_code == 201
    response = api.post("/sessions", session_json(niro, odometer=12999), key="k")
    assert response.status_code == 422 and "another request" in response.json()["message"]
    assert api.post("/backups", key="k").status_code == 422  # another endpoint: another request
    assert ChargingSession.objects.count() == 1


def test_a_refused_row_is_answered_the_same_when_sent_again(api, niro):
    first = api.post("/sessions", session_json(niro, charge_delivered_kwh="500"), key="k")
    again = api.post("/sessions", session_json(niro, charge_delivered_kwh="500"), key="k")
    assert first.status_code == again.status_code == 422
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"


def test_a_duplicate_is_answered_409_again_with_the_same_key(api, niro, make_session):
    make_session(niro, "2026-03-01", 12480, "30.5")
    first = api.post("/sessions", session_json(niro), key="k")
    again = api.post("/sessions", session_json(niro), key="k")
    assert first.status_code == again.status_code == 409 and again.content == first.content


def test_while_the_first_request_is_being_answered_the_same_key_is_409(token_and_api, niro):
    token, api = token_and_api
    assert api.post("/sessions", session_json(niro), key="k").status_code == 201
    IdempotencyKey.objects.filter(token=token, key="k").update(status=IdempotencyKey.Status.IN_FLIGHT)
    response = api.post("/sessions", session_json(niro), key="k")
    assert response.status_code == 409 and "still being answered" in response.json()["message"]
    assert response["Retry-After"] == "1"


def test_a_claim_whose_request_died_is_taken_over_after_five_minutes(owner, token_and_api, niro):
    token, api = token_and_api
    assert api.post("/sessions", session_json(niro), key="k").status_code == 201
    import_batch_undo(user=owner, batch_id=ImportBatch.objects.get().pk)  # (as if it had never been written)
    IdempotencyKey.objects.filter(token=token, key="k").update(
        status=IdempotencyKey.Status.IN_FLIGHT, created_at=timezone.now() - dt.timedelta(minutes=6)
    )
    response = api.post("/sessions", session_json(niro), key="k")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert ChargingSession.objects.count() == 1


def test_keys_are_kept_a_day_then_swept(token_and_api, niro):
    token, api = token_and_api
    assert api.post("/sessions", session_json(niro), key="old").status_code == 201
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(hours=24, seconds=1))
    response = api.post("/sessions", session_json(niro, odometer=12600), key="old")  # the key is free again
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert IdempotencyKey.objects.filter(created_at__lt=timezone.now() - dt.timedelta(hours=24)).count() == 0


def test_a_request_that_could_not_run_leaves_its_key_free_to_send_again(api, niro, monkeypatch):
    def busy(**kwargs):
        raise AccountBusy()

    with monkeypatch.context() as patched:
        patched.setattr("api.routes.posting.session_post", busy)
        response = api.post("/sessions", session_json(niro), key="k")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "Another import" in response.json()["message"]
    assert not IdempotencyKey.objects.exists()
    assert api.post("/sessions", session_json(niro), key="k").status_code == 201


def test_keys_are_each_tokens_own(owner, niro, make_token, api_as, api):
    _, other = make_token(owner, name="other")
    assert api.post("/sessions", session_json(niro), key="k").status_code == 201
    response = api_as(other).post("/sessions", session_json(niro, odometer=12600), key="k")
    assert response.status_code == 201


def test_a_backup_posted_twice_is_one_job(api):
    first = api.post("/backups", key="nightly-2026-03-01")
    again = api.post("/backups", key="nightly-2026-03-01")
    assert first.status_code == again.status_code == 202
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_identical_posts_from_parallel_processes_store_one_session(owner, niro, make_token, tmp_path):
    _, secret = make_token(owner)
    body = json.dumps(session_json(niro))
    posting = [python_module("tests.api.post_in_process", "/api/v1/sessions", secret, "same-key", body,
                             data_dir=tmp_path) for _ in range(20)]  # fmt: skip
    try:
        for process in posting:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        for process in posting:  # all at once
            process.stdin.write("go\n")
            process.stdin.flush()
        answers = []
        for process in posting:
            code, stdout, stderr = finished(process, timeout=180)
            assert code == 0, stderr
            answers.append(json.loads(stdout))
    finally:
        for process in posting:
            process.kill() if process.poll() is None else None

    assert ChargingSession.objects.filter(car=niro).count() == 1
    created = [answer for answer in answers if answer["status"] == 201]
    first = [answer for answer in created if answer["replayed"] is None]
    assert len(first) == 1, answers
    assert all(answer["body"] == first[0]["body"] for answer in created)
    assert {answer["status"] for answer in answers} <= {201, 409}
    assert all("still being answered" in json.loads(answer["body"])["message"]
               for answer in answers if answer["status"] == 409)  # fmt: skip

"""Tokens at the door: a wrong, expired or revoked token is 401; a scope the token lacks 403; another
owner's car, or one outside the token's list, 404 and never its data; tokens that keep failing from one
address are shut out (429 with Retry-After)."""

import datetime as dt

import pytest
from django.utils import timezone

from api.models import ApiToken
from api.services import api_token_authenticate, api_token_revoke

from .conftest import session_json

ROUTES = [  # (method, path, query or body, the scope it needs)
    ("get", "/sessions", {}, "sessions:read"),
    ("get", "/sessions.csv", {}, "sessions:read"),
    ("get", "/analytics/summary", {}, "analytics:read"),
    ("post", "/sessions", None, "sessions:write"),
    ("post", "/backups", None, "backups:run"),
    ("get", "/jobs/1", {}, "backups:run"),
]


def call(api, method, path, data, car):
    if method == "post":
        return api.post(path, session_json(car) if path == "/sessions" else None)
    return api.get(path, **data)


@pytest.mark.parametrize(("method", "path", "data", "scope"), ROUTES)
def test_a_token_without_the_scope_is_refused_403_and_with_it_passes(owner, niro, make_token, api_as, method,
                                                                     path, data, scope):  # fmt: skip
    others = [other for other in ("sessions:read", "sessions:write", "analytics:read", "backups:run") if other != scope]
    _, lacking = make_token(owner, name="lacking", scopes=others)
    response = call(api_as(lacking), method, path, data, niro)
    assert response.status_code == 403
    assert response.json()["message"].startswith("This token may not") and scope in response.json()["message"]

    _, having = make_token(owner, name="having", scopes=[scope])
    assert call(api_as(having), method, path, data, niro).status_code in (200, 201, 202, 404)  # (no job 1: 404)


@pytest.mark.parametrize(("method", "path", "data", "scope"), ROUTES)
def test_without_a_token_every_route_is_401_with_a_message(niro, api_as, method, path, data, scope):
    response = call(api_as(None), method, path, data, niro)
    assert response.status_code == 401
    assert response.json() == {"message": response.json()["message"]} and "Bearer" in response.json()["message"]
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_wrong_an_expired_and_a_revoked_token_are_401_each_saying_why(owner, niro, make_token, api_as):
    token, secret = make_token(owner)
    public, rest = secret[: len(token.public_part)], secret[len(token.public_part) :]  # pt_<id>_, and the secret
    wrong = f"{public}{'A' if rest[0] != 'A' else 'B'}{rest[1:]}"
    cases = {
        "not a token": ("hello", "not a PlugTrack API token"),
        "wrong secret": (wrong, "not one of PlugTrack's"),
        "unknown id": ("pt_000000000000_" + rest, "not one of PlugTrack's"),
    }
    for said, (presented, message) in cases.items():
        response = api_as(presented).get("/cars")
        assert response.status_code == 401, said
        assert message in response.json()["message"], said

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = api_as(secret).get("/cars")
    assert response.status_code == 401 and "expired" in response.json()["message"]

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(days=1))
    assert api_as(secret).get("/cars").status_code == 200
    api_token_revoke(user=owner, name=token.name)
    response = api_as(secret).get("/cars")
    assert response.status_code == 401 and "revoked" in response.json()["message"]


def test_a_token_of_an_owner_who_can_no_longer_log_in_is_refused(owner, niro, make_token, api_as):
    _, secret = make_token(owner)
    owner.is_active = False
    owner.save()
    assert api_as(secret).get("/cars").status_code == 401


def test_the_secret_is_kept_only_as_its_hash(owner, make_token):
    token, secret = make_token(owner)
    assert secret.startswith(f"pt_{token.prefix}_") and len(secret) == len("pt_") + 12 + 1 + 43
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(secret[len(token.public_part) :] in str(value) for value in stored.values())
    assert api_token_authenticate(presented=secret, address=None) == token


def test_a_use_is_noted_with_its_time_and_address(owner, niro, make_token, api_as):
    token, secret = make_token(owner)
    assert api_as(secret, address="198.51.100.7").get("/cars").status_code == 200
    token.refresh_from_db()
    assert token.last_used_from == "198.51.100.7" and token.last_used_at is not None


def test_another_owners_token_sees_only_its_owners_data(owner, other_owner, niro, make_car, make_session, make_token,
                                                       api_as):  # fmt: skip
    make_session(niro, "2026-03-01", 1000)
    bobs_car = make_car(other_owner, name="Zoe")
    _, bobs = make_token(other_owner)
    api = api_as(bobs)
    assert [car["id"] for car in api.get("/cars").json()] == [bobs_car.pk]
    assert api.get("/sessions").json()["sessions"] == []
    for path, params in [("/sessions", {"car": niro.pk}), ("/sessions.csv", {"car": niro.pk}),
                         ("/analytics/summary", {"car": niro.pk})]:  # fmt: skip
        response = api.get(path, **params)
        assert response.status_code == 404, path
        assert "Niro" not in response.content.decode() and "1000" not in response.content.decode()
    response = api.post("/sessions", session_json(niro))
    assert response.status_code == 404
    assert not niro.sessions.filter(odometer=12480).exists()


def test_a_car_outside_the_tokens_list_is_404_and_left_out_of_every_list(owner, niro, make_car, make_session,
                                                                        make_token, api_as):  # fmt: skip
    ioniq = make_car(owner, name="Ioniq")
    make_session(niro, "2026-03-01", 1000)
    make_session(ioniq, "2026-03-02", 5000)
    _, secret = make_token(owner, cars=[ioniq])
    api = api_as(secret)
    assert [car["id"] for car in api.get("/cars").json()] == [ioniq.pk]
    assert [session["odometer"] for session in api.get("/sessions").json()["sessions"]] == [5000]
    assert api.get("/sessions", car=niro.pk).status_code == 404
    assert api.get("/sessions.csv", car=niro.pk).status_code == 404
    assert api.get("/analytics/summary", car=niro.pk).status_code == 404
    assert api.post("/sessions", session_json(niro)).status_code == 404
    assert api.get("/sessions.csv").status_code == 200  # (its only car)


def test_ten_failed_tokens_from_one_address_shut_it_out_with_retry_after(owner, niro, make_token, api_as):
    _, secret = make_token(owner)
    attacker = api_as("pt_000000000000_" + "x" * 43, address="203.0.113.9")
    for _ in range(10):
        assert attacker.get("/cars").status_code == 401
    response = attacker.get("/cars")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 15 * 60
    assert "Too many wrong tokens" in response.json()["message"]
    # the good token from that address waits too; from another address it passes
    assert api_as(secret, address="203.0.113.9").get("/cars").status_code == 429
    assert api_as(secret, address="203.0.113.10").get("/cars").status_code == 200


def test_behind_the_proxy_the_address_is_the_one_it_saw(owner, niro, make_token, api_as, settings):
    settings.BEHIND_PROXY = True
    attacker = api_as("pt_000000000000_" + "x" * 43, address="127.0.0.1")
    for number in range(10):  # a forged first entry does not make each failure come from elsewhere
        attacker.client.defaults["HTTP_X_FORWARDED_FOR"] = f"10.0.0.{number}, 203.0.113.20"
        attacker.get("/cars")
    assert attacker.get("/cars").status_code == 429
    attacker.client.defaults["HTTP_X_FORWARDED_FOR"] = "203.0.113.21"
    assert attacker.get("/cars").status_code == 401

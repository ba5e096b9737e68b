import json

import pytest
from django.test import Client

from api.services import api_token_create

ALL_SCOPES = ("sessions:read", "sessions:write", "analytics:read", "backups:run")


@pytest.fixture
def niro(owner, make_car):
    return make_car(owner, name="Niro")


@pytest.fixture
def make_token():
    """A token of `user`'s (all scopes unless told), as its owner would make it: (ApiToken, the token itself)."""

    def make(user, *, name="Home Assistant", scopes=ALL_SCOPES, cars=(), days=90):
        new = api_token_create(user=user, name=name, scopes=scopes, car_ids=[car.pk for car in cars],
                               expires_days=days)  # fmt: skip
        return new.token, new.secret

    return make


class Api:
    """PlugTrack's API as a program calls it: a client with its token, JSON in and out."""

    def __init__(self, secret: str | None, address: str = "192.0.2.10"):
        self.client = Client(REMOTE_ADDR=address)
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params, headers=self.headers)

    def post(self, path: str, data=None, *, key: str | None = "key-1", body: bytes | None = None, **headers):
        headers = self.headers | ({"Idempotency-Key": key} if key else {}) | headers
        content = body if body is not None else json.dumps(data, default=str).encode() if data is not None else b""
        return self.client.generic("POST", f"/api/v1{path}", content, content_type="application/json",
                                   headers=headers)  # fmt: skip


@pytest.fixture
def api_as():
    return Api


def session_json(car, /, **fields) -> dict:
    """A finished session as a wallbox would post it."""
    return {"car": car.pk, "date": "2026-03-01", "odometer": 12480, "charge_type": "AC",
            "charge_delivered_kwh": 30.5, "cost_per_kwh": 0.075, "location_label": "Home"} | fields  # fmt: skip


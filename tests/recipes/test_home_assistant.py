"""docs/recipes/home-assistant.yaml, rendered as Home Assistant renders it and posted as it would post it.

Home Assistant's templates are Jinja2 in a sandbox, with extras; the few the recipe uses are defined here
as Home Assistant defines them (states, state_attr, is_number, as_timestamp, now; the filters float, int,
round and to_json). An automation's data is rendered first, with the trigger, into native values (a
number-looking result becomes a number); the rest_command's payload and headers are then rendered with
that data as their variables. What comes out is posted byte for byte, with its headers, to the API."""

import ast
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from django.test import Client
from jinja2.sandbox import ImmutableSandboxedEnvironment

from api.services import api_token_create
from sessions_app.models import ChargingSession

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "home-assistant.yaml"
ENDED = dt.datetime(2026, 3, 29, 5, 30, 12, 345678, tzinfo=dt.UTC)
STARTED = dt.datetime(2026, 3, 28, 22, 30, 4, 120000, tzinfo=dt.UTC)
_NO_DEFAULT = object()


class HomeAssistant:
    """The states of a few entities, and the templates' functions that read them."""

    def __init__(self, states: dict[str, tuple[str, dict]]):
        self.states = states
        self.env = ImmutableSandboxedEnvironment()
        self.env.globals |= {"states": self.state, "state_attr": self.state_attr, "is_number": is_number,
                             "as_timestamp": as_timestamp, "now": lambda: ENDED}  # fmt: skip
        self.env.filters |= {"float": to_float, "int": to_int, "to_json": json.dumps}

    def state(self, entity_id: str) -> str:
        return self.states.get(entity_id, ("unknown", {}))[0]

    def state_attr(self, entity_id: str, name: str):
        return self.states.get(entity_id, ("unknown", {}))[1].get(name)

    def render(self, template, **variables) -> str:
        return self.env.from_string(template).render(**variables) if isinstance(template, str) else template

    def render_native(self, template, **variables):
        """As an automation's data is rendered: a result that reads as a number, list or dict becomes one."""
        rendered = self.render(template, **variables)
        if not isinstance(rendered, str):
            return rendered
        try:
            value = ast.literal_eval(rendered)
        except (ValueError, SyntaxError):
            return rendered
        return value if isinstance(value, int | float | list | dict) else rendered


def is_number(value) -> bool:
    try:
        return float(value) == float(value) and abs(float(value)) != float("inf")
    except (TypeError, ValueError):
        return False


def to_float(value, default=_NO_DEFAULT):
    try:
        return float(value)
    except (TypeError, ValueError):
        if default is _NO_DEFAULT:
            raise ValueError(f"float got invalid input '{value}' when rendering template") from None
        return default


def to_int(value, default=_NO_DEFAULT):
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        if default is _NO_DEFAULT:
            raise ValueError(f"int got invalid input '{value}' when rendering template") from None
        return default


def as_timestamp(value) -> float:
    return (value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)).timestamp()


class SecretLoader(yaml.SafeLoader):
    """YAML as Home Assistant reads it: `!secret name` is secrets.yaml's value."""


def recipe(secrets: dict[str, str]) -> dict:
    SecretLoader.add_constructor("!secret", lambda loader, node: secrets[loader.construct_scalar(node)])
    return yaml.load(RECIPE.read_text(), Loader=SecretLoader)  # a SafeLoader, with !secret


def fired(ha: HomeAssistant, config: dict) -> tuple[str, str, dict[str, str], bytes]:
    """The charging sensor turned off: the automation's call, as the rest_command sends it (method, url,
    headers, body)."""
    automation = config["automation"][0]
    trigger_config = automation["triggers"][0]
    assert (trigger_config["trigger"], trigger_config["from"], trigger_config["to"]) == ("state", "on", "off")
    entity = trigger_config["entity_id"]
    trigger = SimpleNamespace(entity_id=entity, from_state=SimpleNamespace(state="on", last_changed=STARTED),
                              to_state=SimpleNamespace(state="off", last_changed=ENDED))  # fmt: skip
    call = automation["actions"][0]
    assert call["action"] == "rest_command.plugtrack_session"
    data = {name: ha.render_native(value, trigger=trigger) for name, value in call["data"].items()}
    command = config["rest_command"]["plugtrack_session"]
    headers = {name: ha.render(value, **data) for name, value in command["headers"].items()}
    headers["Content-Type"] = command["content_type"]
    return command["method"].upper(), command["url"], headers, ha.render(command["payload"], **data).encode()


def posted(method: str, url: str, headers: dict[str, str], body: bytes):
    headers = dict(headers)
    content_type = headers.pop("Content-Type")
    return Client(REMOTE_ADDR="192.0.2.123").generic(method, url, body, content_type=content_type, headers=headers)


@pytest.fixture
def niro(owner, make_car):
    return make_car(owner, name="Niro")


@pytest.fixture
def config(owner, niro):
    new = api_token_create(user=owner, name="Home Assistant", scopes=["sessions:write"], car_ids=[niro.pk])
    config = recipe({"plugtrack_sessions_url": "/api/v1/sessions", "plugtrack_authorization": f"Bearer {new.secret}"})
    config["automation"][0]["actions"][0]["data"]["car"] = niro.pk  # the recipe says to put your car's id there
    return config


CHARGED = {
    "binary_sensor.wallbox_charging": ("off", {}),
    "sensor.wallbox_session_energy": ("30.512", {"unit_of_measurement": "kWh"}),
    "sensor.niro_odometer": ("19872.4", {"unit_of_measurement": "km"}),
    "sensor.electricity_price": ("0.0750", {"unit_of_measurement": "GBP/kWh"}),
}


def test_the_rendered_session_is_stored_and_sent_again_is_replayed(db, config, niro):
    method, url, headers, body = fired(HomeAssistant(CHARGED), config)
    assert headers["Idempotency-Key"] == f"ha-car{niro.pk}-{int(ENDED.timestamp())}"
    assert json.loads(body) == {
        "car": niro.pk, "started_at": STARTED.isoformat(), "ended_at": ENDED.isoformat(),
        "odometer": 19872, "odometer_unit": "km", "cost_per_kwh": 0.075, "charge_type": "AC",
        "charge_delivered_kwh": 30.512, "location_label": "Home", "notes": "Sent by Home Assistant",
        "external_id": f"ha-{int(ENDED.timestamp())}",
    }  # fmt: skip

    first = posted(method, url, headers, body)
    assert first.status_code == 201, first.content
    session = ChargingSession.objects.get(car=niro)
    assert session.date == dt.date(2026, 3, 28)  # the local date of the start
    assert session.odometer == 12348  # 19,872 km
    assert session.charge_delivered_kwh == Decimal("30.512")
    assert session.cost_per_kwh == Decimal("0.075")
    assert (session.started_at, session.ended_at) == (STARTED, ENDED)
    assert session.external.external_id == f"ha-{int(ENDED.timestamp())}"

    again = posted(method, url, headers, body)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert ChargingSession.objects.filter(car=niro).count() == 1


def test_a_car_asleep_sends_the_rule_previous_and_an_unknown_price_is_left_out(db, config, niro, make_session):
    make_session(niro, "2026-03-20", 12300)
    asleep = CHARGED | {"sensor.niro_odometer": ("unavailable", {"unit_of_measurement": "km"})}
    del asleep["sensor.electricity_price"]
    method, url, headers, body = fired(HomeAssistant(asleep), config)
    sent = json.loads(body)
    assert sent["odometer_rule"] == "previous"
    assert "odometer" not in sent and "cost_per_kwh" not in sent

    response = posted(method, url, headers, body)
    assert response.status_code == 201, response.content
    session = ChargingSession.objects.get(car=niro, date="2026-03-28")
    assert session.odometer == 12300
    assert session.cost_per_kwh is None
    assert "12,300 mi taken from the session of 20 Mar 2026" in session.notes


def test_a_refusal_is_told_in_a_notification_and_stored_or_duplicate_is_not(db, config):
    check = config["automation"][0]["actions"][1]
    condition = check["if"][0]["value_template"]
    ha = HomeAssistant(CHARGED)
    assert ha.render(condition, plugtrack={"status": 201, "content": {}}) == "False"
    assert ha.render(condition, plugtrack={"status": 409, "content": {}}) == "False"
    assert ha.render(condition, plugtrack={"status": 422, "content": {"message": "…"}}) == "True"
    assert ha.render(condition) == "True"  # no answer (PlugTrack unreachable: the call's error was continued)
    message = check["then"][0]["data"]["message"]
    assert ha.render(message, plugtrack={"status": 401, "content": {"message": "This token was revoked."}}) == (
        "401: {'message': 'This token was revoked.'}"
    )
    assert ha.render(message) == "PlugTrack did not answer."

"""New sessions priced as they arrive: added in the admin, posted to the API or imported from a file,
an owner with a tariff assigned sees each new session's cost worked out at once (the issue's example
A: £6.37), without a recompute; sessions already there keep their figures, and an owner without
tariffs is left as before."""

import datetime as dt
from decimal import Decimal

import pytest

from sessions_app.imports.csv_format import HEADER, TIME_COLUMNS
from sessions_app.imports.csv_io import charging_sessions_import
from sessions_app.models import ChargingSession
from sessions_app.services import charging_session_save
from tariffs.models import Assignment

from ..sessions_app.csv_helpers import session_row, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_go(owner, make_tariff):
    Assignment.objects.create(user=owner, tariff=make_tariff(owner), valid_from=dt.date(2026, 1, 1))
    return owner


def example_a(car) -> ChargingSession:
    return ChargingSession(
        user=car.user, car=car, date=dt.date(2026, 3, 28), odometer=1000, charge_type="AC",
        charge_delivered_kwh=Decimal("49"), location_label="Home",
        started_at=dt.datetime.fromisoformat("2026-03-28T22:30:00+00:00"),
        ended_at=dt.datetime.fromisoformat("2026-03-29T06:30:00+01:00"),
    )  # fmt: skip


def test_a_session_added_is_priced_at_once(on_go, make_car, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        session = charging_session_save(session=example_a(make_car(on_go, name="Niro")))
    session.refresh_from_db()
    assert (session.estimated_cost_gbp, session.cost_source) == (Decimal("6.37"), "times")


def test_a_session_posted_to_the_api_is_priced_at_once(on_go, make_car, client, django_capture_on_commit_callbacks):
    from api.services import api_token_create

    car = make_car(on_go, name="Niro")
    token = api_token_create(user=on_go, name="wallbox", scopes=["sessions:write"]).secret
    body = {"car": car.pk, "started_at": "2026-03-28T22:30:00Z", "ended_at": "2026-03-29T06:30:00+01:00",
            "odometer": 1000, "charge_delivered_kwh": 49, "charge_type": "AC", "location_label": "Home"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/sessions", body,
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
                               HTTP_IDEMPOTENCY_KEY="night-of-28-march")  # fmt: skip
    assert response.status_code == 201, response.content
    session = ChargingSession.objects.get()
    assert (session.estimated_cost_gbp, session.cost_source) == (Decimal("6.37"), "times")


def test_an_import_prices_its_sessions_and_leaves_the_others_as_they_were(
    on_go, make_car, make_session, tmp_path, django_capture_on_commit_callbacks
):
    car = make_car(on_go, name="Niro")
    before = make_session(car, "2026-03-27", 900, "10", location_label="Home")  # there already: no figures
    rows = [session_row(date="2026-03-28", odometer="1000", charge_delivered_kwh="49", cost_per_kwh="",
                        duration_mins="", started_at="2026-03-28T22:30:00+00:00",
                        ended_at="2026-03-29T06:30:00+01:00")]  # fmt: skip
    path = write_csv(tmp_path, rows, header=(*HEADER, *TIME_COLUMNS))
    with django_capture_on_commit_callbacks(execute=True):
        report = charging_sessions_import(user=on_go, car=car, source=path)
    assert report.inserted == 1, report
    new = ChargingSession.objects.get(date=dt.date(2026, 3, 28))
    assert (new.estimated_cost_gbp, new.cost_source) == (Decimal("6.37"), "times")
    before.refresh_from_db()
    assert before.estimated_cost_gbp is None  # only a recompute (with its preview and undo) changes those


def test_an_owner_without_tariffs_is_left_as_before(owner, make_car, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        session = charging_session_save(session=example_a(make_car(owner, name="Niro")))
    session.refresh_from_db()
    assert session.estimated_cost_gbp is None and session.cost_source in ("", "none", None)

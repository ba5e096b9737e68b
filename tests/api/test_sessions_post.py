"""POST /sessions: one finished session, through the import engine with an import's checks and
messages, recorded in one import per token per day (Undo works on it); refusals as JSON, each with a
message (bad JSON, hostile sizes, fields that are not a session's)."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.middleware import MAX_BODY_BYTES, ApiMiddleware
from api.models import TokenImportDay
from cars_app.models import Car
from sessions_app.imports.batches import import_batch_undo
from sessions_app.models import ChargingSession, ImportBatch
from sessions_app.services import sessions_sequence_recompute

from .conftest import session_json


@pytest.fixture
def api(owner, niro, make_token, api_as):
    _, secret = make_token(owner)
    return api_as(secret)


def test_a_session_is_stored_and_answered_as_stored_with_its_import(api, niro):
    response = api.post("/sessions", session_json(niro, charge_power_kw="7.4", soc_from=20, soc_to=80, notes="HA"))
    assert response.status_code == 201, response.content
    body = response.json()
    stored = ChargingSession.objects.get()
    assert body["session"]["id"] == stored.pk and body["import_id"] == stored.batch_id
    assert body["session"] | {"id": 0} == {
        "id": 0, "car": niro.pk, "date": "2026-03-01", "odometer": 12480, "miles": None, "charge_type": "AC",
        "charge_power_kw": 7.4, "location_label": "Home", "charge_network": "", "charge_delivered_kwh": 30.5,
        "duration_mins": None, "cost_per_kwh": 0.075, "total_cost_gbp": 2.29, "soc_from": 20, "soc_to": 80,
        "ambient_temp_c": None, "notes": "HA", "started_at": None, "ended_at": None, "home": True,
        "flagged": False, "import_id": stored.batch_id, "external_id": None,
    }  # fmt: skip
    assert body["warnings"] == []
    assert stored.total_cost_gbp == Decimal("2.29")  # derived as an import derives it
    assert response["Location"].startswith("/api/v1/sessions?car=")


def test_the_sessions_a_token_posts_in_a_day_are_one_import_that_undo_removes(owner, api, niro, make_token,
                                                                              api_as):  # fmt: skip
    for day in (1, 2, 3):
        assert api.post("/sessions", session_json(niro, date=f"2026-03-0{day}", odometer=12480 + day),
                        key=f"k{day}").status_code == 201  # fmt: skip
    batch = ImportBatch.objects.get()
    assert (batch.inserted, batch.rows_read, batch.format, batch.car_id) == (3, 3, "api", niro.pk)
    assert "Home Assistant" in batch.source_name and TokenImportDay.objects.get().batch == batch
    # another token's sessions are another import
    _, other = make_token(owner, name="evcc script")
    assert api_as(other).post("/sessions", session_json(niro, date="2026-03-04", odometer=12600)).status_code == 201
    assert ImportBatch.objects.count() == 2

    report = import_batch_undo(user=owner, batch_id=batch.pk)
    assert report.removed == 3 and list(niro.sessions.values_list("odometer", flat=True)) == [12600]
    # after the undo, the day's next session starts a new import
    assert api.post("/sessions", session_json(niro, date="2026-03-05", odometer=12700), key="k5").status_code == 201
    assert ImportBatch.objects.filter(undone_at__isnull=True).count() == 2


def test_a_day_of_sessions_for_two_cars_is_one_import_naming_neither(owner, api, niro, make_car):
    ioniq = make_car(owner, name="Ioniq")
    assert api.post("/sessions", session_json(niro), key="a").status_code == 201
    assert api.post("/sessions", session_json(ioniq), key="b").status_code == 201
    batch = ImportBatch.objects.get()
    assert batch.car is None and batch.inserted == 2
    out = StringIO()
    call_command("import_batches", "--user", "alice", stdout=out)
    assert "(several cars)" in out.getvalue()


def test_the_next_day_starts_another_import(api, niro, monkeypatch):
    assert api.post("/sessions", session_json(niro), key="a").status_code == 201
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    monkeypatch.setattr("api.posting.timezone.localdate", lambda: tomorrow)
    assert api.post("/sessions", session_json(niro, odometer=12600), key="b").status_code == 201
    assert ImportBatch.objects.count() == 2


def test_a_session_stored_already_is_409_with_its_id_and_nothing_written(api, niro, make_session):
    stored = make_session(niro, "2026-03-01", 12480, "30.500")
    response = api.post("/sessions", session_json(niro, charge_delivered_kwh="30.5"))
    assert response.status_code == 409
    assert response.json()["session_id"] == stored.pk and "stored already" in response.json()["message"]
    assert ChargingSession.objects.count() == 1 and not ImportBatch.objects.exists()


def test_an_external_id_is_kept_and_a_second_session_with_it_is_409(api, niro):
    first = api.post("/sessions", session_json(niro, external_id="evcc-42"), key="a")
    assert first.status_code == 201 and first.json()["session"]["external_id"] == "evcc-42"
    again = api.post("/sessions", session_json(niro, external_id="evcc-42", odometer=12999), key="b")
    assert again.status_code == 409 and again.json()["session_id"] == first.json()["session"]["id"]
    assert "evcc-42" in again.json()["message"]
    assert api.get("/sessions").json()["sessions"][0]["external_id"] == "evcc-42"


def test_a_row_error_is_422_in_the_import_reports_shape_and_nothing_is_written(api, niro):
    response = api.post("/sessions", session_json(niro, charge_delivered_kwh="500", soc_from=90, soc_to=10))
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("The session was not stored: ")
    fields = {issue["field"] for issue in body["errors"]}
    assert {"charge_delivered_kwh"} <= fields
    assert all(set(issue) == {"row", "field", "value", "message", "kind"} for issue in body["errors"])
    issue = next(issue for issue in body["errors"] if issue["field"] == "charge_delivered_kwh")
    assert issue["row"] == 1 and issue["value"] == "500" and "battery" in issue["message"]
    assert not ChargingSession.objects.exists() and not ImportBatch.objects.exists()


def test_a_price_above_the_ceiling_is_refused_with_the_imports_message(api, niro):
    response = api.post("/sessions", session_json(niro, cost_per_kwh="75"))
    assert response.status_code == 422
    assert [issue["field"] for issue in response.json()["errors"]] == ["cost_per_kwh"]


def test_a_session_that_looks_wrong_is_stored_with_its_warning(api, niro, make_session):
    make_session(niro, "2026-02-01", 20000)
    response = api.post("/sessions", session_json(niro, date="2026-03-01", odometer=12480))  # the odometer went back
    assert response.status_code == 201
    body = response.json()
    assert body["session"]["flagged"] is True
    assert body["warnings"] and body["warnings"][0]["field"] == "odometer"
    assert body["warnings"][0]["message"].startswith("Please check:")


def test_a_total_that_differs_from_price_times_energy_is_kept_with_a_warning_naming_total_cost(api, niro):
    response = api.post("/sessions", session_json(niro, total_cost="9.99"))
    assert response.status_code == 201
    assert response.json()["session"]["total_cost_gbp"] == 9.99
    assert [warning["field"] for warning in response.json()["warnings"]] == ["total_cost"]


def test_started_at_gives_the_local_date_and_both_times_are_kept(api, niro):
    response = api.post("/sessions", session_json(
        niro, date=None, started_at="2026-03-28T23:30:00+00:00", ended_at="2026-03-29T06:30:00+01:00"))  # fmt: skip
    assert response.status_code == 201, response.content
    session = ChargingSession.objects.get()
    assert session.date == dt.date(2026, 3, 28)  # 23:30 UTC is still the 28th in London (GMT)
    assert session.started_at == dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC)
    assert response.json()["session"]["ended_at"] == "2026-03-29T06:30:00+01:00"


def test_a_start_on_another_local_date_than_the_date_given_is_the_rows_error(api, niro):
    response = api.post("/sessions", session_json(niro, date="2026-03-01", started_at="2026-03-02T10:00:00Z"))
    assert response.status_code == 422
    assert [issue["field"] for issue in response.json()["errors"]] == ["started_at"]


def test_a_time_without_its_offset_is_refused(api, niro):
    response = api.post("/sessions", session_json(niro, started_at="2026-03-01T10:00:00"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "started_at"


def test_an_odometer_in_km_is_converted_and_said_in_the_notes(api, niro):
    response = api.post("/sessions", session_json(niro, odometer=20117, odometer_unit="km", notes="wallbox"))
    assert response.status_code == 201
    session = response.json()["session"]
    assert session["odometer"] == 12500
    assert session["notes"] == "wallbox · PlugTrack: odometer 20117 km → 12500 miles"


def test_the_previous_rule_takes_the_latest_odometer_before_it_and_says_so(api, niro, make_session):
    make_session(niro, "2026-02-20", 12000)
    make_session(niro, "2026-03-10", 12900)  # after it: never taken
    response = api.post("/sessions", session_json(niro, odometer=None, odometer_rule="previous", date="2026-03-01"))
    assert response.status_code == 201, response.content
    session = response.json()["session"]
    assert session["odometer"] == 12000 and session["miles"] == 0
    assert "12,000 mi taken from the session of 20 Feb 2026" in session["notes"]
    assert "odometer not given" in session["notes"]


def test_the_previous_rule_with_no_session_before_is_the_rows_error(api, niro):
    response = api.post("/sessions", session_json(niro, odometer=None, odometer_rule="previous"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "odometer"
    assert "no session dated before" in response.json()["errors"][0]["message"]


def test_the_same_wallbox_session_posted_again_with_the_previous_rule_is_409(api, niro, make_session):
    make_session(niro, "2026-02-20", 12000)
    body = session_json(niro, odometer=None, odometer_rule="previous", date="2026-03-01")
    assert api.post("/sessions", body, key="a").status_code == 201
    assert api.post("/sessions", body, key="b").status_code == 409


def test_costs_in_another_currency_are_converted_at_the_rate_and_said(api, niro):
    response = api.post("/sessions", session_json(niro, cost_per_kwh=None, total_cost="10.83", currency="EUR",
                                                   rate="0.86"))  # fmt: skip
    assert response.status_code == 201
    session = response.json()["session"]
    assert session["total_cost_gbp"] == 9.31 and "total cost 10.83 EUR → £9.31 at 0.86" in session["notes"]


def test_a_currency_without_its_rate_is_422_naming_the_apis_fields(api, niro):
    response = api.post("/sessions", session_json(niro, currency="EUR"))
    assert response.status_code == 422
    message = response.json()["message"]
    assert '"rate"' in message and "--rate" not in message and "Exchange rate" not in message


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        ({"kwh": 30}, "kwh", "Not one of the fields"),
        ({"odometer": None}, "", "odometer_rule"),
        ({"odometer_rule": "previous"}, "", "not both"),
        ({"date": None}, "", "started_at"),
        ({"charge_delivered_kwh": "lots"}, "charge_delivered_kwh", "decimal"),
        ({"charge_delivered_kwh": "1e999999999"}, "charge_delivered_kwh", "20 digits"),
        ({"charge_type": "petrol"}, "charge_type", ""),
        ({"car": "one"}, "car", "integer"),
        ({"soc_from": 1.5}, "soc_from", "integer"),
        ({"external_id": "x" * 201}, "external_id", "200"),
    ],
)
def test_fields_that_are_not_a_sessions_are_422_each_named(api, niro, fields, field, said):
    response = api.post("/sessions", session_json(niro) | fields)
    assert response.status_code == 422, response.content
    issues = response.json()["errors"]
    assert any(issue["field"] == field and said in issue["message"] for issue in issues), issues
    assert response.json()["message"].startswith("Not what this takes:")
    assert not ChargingSession.objects.exists()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{bad json", "The body is not JSON"),
        (b"\xff\xfe", "The body is not JSON"),
        (b"", "The body is empty"),
        (b"[1, 2]", "JSON object"),
        (b'"a string"', "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "The body is not JSON"),  # nested past the parser's depth
    ],
)
def test_a_body_that_is_not_a_json_session_is_422_with_a_message(api, niro, body, said):
    response = api.post("/sessions", body=body)
    assert response.status_code == 422
    assert said in response.json()["message"] or any(said in issue["message"] for issue in response.json()["errors"])


def test_a_body_over_1_mb_is_refused_413_by_its_content_length_before_it_is_read(api, niro):
    body = json.dumps(session_json(niro, notes="x" * MAX_BODY_BYTES)).encode()
    response = api.post("/sessions", body=body)
    assert response.status_code == 413
    assert "larger than 1 MB" in response.json()["message"]
    assert not ChargingSession.objects.exists()


def test_a_body_over_1_mb_is_refused_413_while_it_is_read_when_no_length_bounds_it(niro):
    """Where nothing bounds the stream by its Content-Length (a server that passes a chunked body on), the
    middleware stops reading just past 1 MB."""
    read = []

    def endless(size=-1):
        read.append(size)
        return b"x" * size

    request = RequestFactory().post("/api/v1/sessions", b"", content_type="application/json")
    request.read = endless
    response = ApiMiddleware(lambda request: pytest.fail("the view was reached"))(request)
    assert response.status_code == 413 and "larger than 1 MB" in json.loads(response.content)["message"]
    assert sum(read) <= MAX_BODY_BYTES + 65536


def test_a_body_sent_without_its_content_length_is_not_read_at_all(api, niro):
    body = json.dumps(session_json(niro)).encode() + b" " * (2 * MAX_BODY_BYTES)
    response = api.client.generic("POST", "/api/v1/sessions", body, content_type="application/json",
                                  headers=api.headers | {"Idempotency-Key": "k"}, CONTENT_LENGTH="")  # fmt: skip
    assert response.status_code == 422 and "The body is empty" in response.json()["errors"][0]["message"]


def test_a_content_length_that_is_not_a_number_is_400(api, niro):
    response = api.client.generic("POST", "/api/v1/sessions", b"{}", content_type="application/json",
                                  headers=api.headers | {"Idempotency-Key": "k"}, CONTENT_LENGTH="lots")  # fmt: skip
    assert response.status_code == 400 and "Content-Length" in response.json()["message"]


def test_a_post_without_an_idempotency_key_is_400_and_writes_nothing(api, niro):
    response = api.post("/sessions", session_json(niro), key=None)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["message"]
    assert api.post("/sessions", session_json(niro), key="has space").status_code == 400
    assert api.post("/sessions", session_json(niro), key="x" * 256).status_code == 400
    assert not ChargingSession.objects.exists()


def test_a_car_removed_meanwhile_is_404(api, niro, monkeypatch):
    monkeypatch.setattr("api.routes.token_car", lambda token, car_id: niro)  # (found before it went)
    Car.objects.filter(pk=niro.pk).delete()
    response = api.post("/sessions", session_json(niro))
    assert response.status_code == 404 and "no longer exists" in response.json()["message"]


def test_sqlites_writer_held_too_long_is_503_as_the_admins_busy_page(api, niro, monkeypatch):
    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("api.routes.posting.session_post", locked)
    response = api.post("/sessions", session_json(niro))
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "did not finish within" in response.json()["message"]


def test_an_unexpected_error_is_500_with_a_message_and_logged(api, niro, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("api.routes.posting.session_post", broken)
    response = api.post("/sessions", session_json(niro))
    assert response.status_code == 500 and response.json() == {"message": response.json()["message"]}
    assert "a bug" not in response.content.decode() and "api_error" in caplog.text


def test_unknown_addresses_and_methods_answer_json(api):
    response = api.get("/nowhere")
    assert response.status_code == 404 and "no such address" in response.json()["message"]
    response = api.client.delete("/api/v1/sessions", headers=api.headers)
    assert response.status_code == 405 and "DELETE" in response.json()["message"] and response["Allow"]


@pytest.mark.parametrize("where", ["after the last", "among them"])
def test_one_post_costs_the_same_queries_for_a_short_and_a_long_history(owner, make_car, make_token, api_as, where):
    """The engine reads the new session's stored neighbours and recomputes from its date, the months it
    touched: not the car's whole history (before, 2 s for an owner of 51,000 sessions)."""
    _, secret = make_token(owner)
    api, counts = api_as(secret), []
    # (a token's first session of the day opens its import record; its first for a second car unnames the car)
    for name in ("First", "Second"):
        assert api.post("/sessions", session_json(make_car(owner, name=name)), key=name).status_code == 201
    for sessions in (5, 3000):  # a session every 3 days from 2000: 3,000 are 300 months, 600 month totals
        car = make_car(owner, name=f"{sessions} sessions")
        ChargingSession.objects.bulk_create(
            ChargingSession(user=owner, car=car, date=dt.date(2000, 1, 1) + dt.timedelta(days=3 * i),
                            odometer=1000 + 40 * i, charge_type="AC", charge_delivered_kwh=10,
                            location_label="Home" if i % 3 else "Tesco")
            for i in range(sessions)
        )  # fmt: skip
        sessions_sequence_recompute(car_ids=[car.pk], rows_written=sessions)
        at = sessions if where == "after the last" else sessions // 2
        posted = session_json(car, date=str(dt.date(2000, 1, 1) + dt.timedelta(days=3 * at + 1)),
                              odometer=1000 + 40 * at + 20, charge_delivered_kwh=5)  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            assert api.post("/sessions", posted, key=f"cost-{sessions}").status_code == 201
        counts.append(len(queries))
        stored = ChargingSession.objects.get(car=car, odometer=1000 + 40 * at + 20)
        assert stored.odometer_before == 1000 + 40 * min(at, sessions - 1)
    assert counts[0] == counts[1], counts

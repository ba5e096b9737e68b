"""The API's reads: sessions a page at a time by cursor (ties on date and odometer included), PlugTrack's
own CSV streamed (which imports back as duplicates), the cars, a car's analytics, a backup's job."""

import datetime as dt
import io

import pytest
from django.utils import timezone

from jobs.models import Job
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import

from .conftest import session_json


@pytest.fixture
def api(owner, niro, make_token, api_as):
    _, secret = make_token(owner)
    return api_as(secret)


def test_every_session_once_in_order_over_pages_with_ties_on_date_and_odometer(api, niro, make_session):
    made = []
    for day in range(1, 5):
        for kwh in ("10", "20", "30"):  # three sessions of one date and one odometer: only the id orders them
            made.append(make_session(niro, f"2026-03-0{day}", 1000 + day, kwh))
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get("/sessions", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [session["id"] for session in page["sessions"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [session.pk for session in sorted(made, key=lambda s: (s.date, s.odometer, s.pk))]
    assert pages == 6


def test_a_page_is_at_most_500_and_100_by_default(api, niro, make_session):
    for day in range(1, 4):
        make_session(niro, f"2026-03-0{day}", 1000 + day)
    assert len(api.get("/sessions").json()["sessions"]) == 3
    for limit in (0, 501, "many"):
        response = api.get("/sessions", limit=limit)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "limit"
        assert response.json()["errors"][0]["row"] is None


def test_a_cursor_the_api_did_not_give_is_422(api):
    for cursor in ("nonsense", "bm90fGF8Y3Vyc29y", "!!"):
        response = api.get("/sessions", cursor=cursor)
        assert response.status_code == 422 and "cursor" in response.json()["message"]


def test_sessions_are_filtered_by_car_dates_and_home_or_public(owner, api, niro, make_car, make_session):
    ioniq = make_car(owner, name="Ioniq")
    make_session(niro, "2026-03-01", 1000, location_label="Home driveway")
    make_session(niro, "2026-03-05", 1100, location_label="Tesco Extra", charge_network="InstaVolt")
    make_session(niro, "2026-04-01", 1200, location_label="Home")
    make_session(ioniq, "2026-03-02", 5000, location_label="Home")

    def odometers(**params):
        return [session["odometer"] for session in api.get("/sessions", **params).json()["sessions"]]

    assert odometers() == [1000, 5000, 1100, 1200]
    assert odometers(car=niro.pk) == [1000, 1100, 1200]
    assert odometers(car=niro.pk, **{"from": "2026-03-02", "to": "2026-03-31"}) == [1100]
    assert odometers(where="home") == [1000, 5000, 1200]
    assert odometers(where="public") == [1100]
    assert api.get("/sessions", where="elsewhere").status_code == 422
    homes = {session["odometer"]: session["home"] for session in api.get("/sessions").json()["sessions"]}
    assert homes == {1000: True, 5000: True, 1100: False, 1200: True}


def test_the_csv_is_plugtracks_own_and_imports_back_as_duplicates(owner, api, niro, make_session, tmp_path):
    make_session(niro, "2026-03-01", 1000, "30.5", cost_per_kwh="0.075", notes="=cmd, a note\nover lines")
    api.post("/sessions", session_json(niro, date=None, odometer=1100, started_at="2026-03-28T23:30:00+00:00",
                                       ended_at="2026-03-29T06:30:00+01:00"))  # fmt: skip
    for with_times in (False, True):
        response = api.get("/sessions.csv", car=niro.pk, **({"with_times": "true"} if with_times else {}))
        assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="plugtrack_sessions_alice_niro_')
        text = b"".join(response.streaming_content).decode()
        header = text.splitlines()[0]
        assert header.endswith("notes,started_at,ended_at") is with_times
        assert "'=cmd" in text  # formula-escaped, as the export writes it
        report = charging_sessions_import(user=owner, car=niro, source=io.StringIO(text, newline=""),
                                          options=ImportOptions(source_name="api.csv", error_file=False))  # fmt: skip
        assert (report.rows_read, report.inserted, report.skipped_duplicates, report.error_count) == (2, 0, 2, 0)


def test_the_csv_filters_as_the_list_does_and_needs_one_car(owner, api, niro, make_car, make_session):
    make_session(niro, "2026-03-01", 1000, location_label="Home")
    make_session(niro, "2026-03-05", 1100, location_label="Services", charge_network="IONITY")
    rows = b"".join(api.get("/sessions.csv", where="public", **{"from": "2026-03-01"}).streaming_content)
    assert rows.decode().splitlines()[1].startswith("2026-03-05,1100,") and len(rows.decode().splitlines()) == 2
    make_car(owner, name="Ioniq")
    response = api.get("/sessions.csv")
    assert response.status_code == 422 and "Give the car" in response.json()["message"]


def test_the_cars_are_listed_with_their_figures(api, niro):
    assert api.get("/cars").json() == [{"id": niro.pk, "name": "Niro", "make": "Kia", "model": "Niro EV",
                                        "battery_kwh": 64.8, "efficiency_mpkwh": None, "active": True}]  # fmt: skip


def test_the_analytics_summary_of_a_period_reads_the_month_totals(api, niro, make_session):
    today = timezone.localdate()
    last_year = today.replace(year=today.year - 1, day=1)
    make_session(niro, last_year, 1000, "20", cost_per_kwh="0.10", location_label="Home")
    make_session(niro, today.replace(day=1), 1100, "25", cost_per_kwh="0.20", location_label="Services")
    make_session(niro, today, 1200, "25", cost_per_kwh="0.20", location_label="Home")

    everything = api.get("/analytics/summary").json()
    assert (everything["period"], everything["first_day"], everything["sessions"]) == ("all", None, 3)
    assert everything["kwh"] == 70.0 and everything["cost_gbp"] == 12.0 and everything["miles"] == 200
    assert everything["efficiency_source"] == "measured" and everything["efficiency_mpkwh"] == 4.0
    assert everything["home_share_percent"] == round(100 * 45 / 70, 1)
    assert everything["petrol_pence_per_mile"] > 0 and everything["pence_per_mile"] is not None

    month = api.get("/analytics/summary", period="month").json()
    assert (month["sessions"], month["first_day"], month["kwh"]) == (2, today.replace(day=1).isoformat(), 50.0)
    year = api.get("/analytics/summary", period="year", car=niro.pk).json()
    assert year["first_day"] == dt.date(today.year, 1, 1).isoformat() and year["last_day"].endswith("-12-31")
    assert api.get("/analytics/summary", period="week").status_code == 422


def test_a_backup_is_started_and_followed_by_its_job(owner, api, niro, make_session):
    make_session(niro, "2026-03-01", 1000)
    response = api.post("/backups")
    assert response.status_code == 202
    job = response.json()
    assert job["kind"] == "backup_create" and job["url"] == f"/api/v1/jobs/{job['id']}"
    assert response["Location"] == job["url"]
    followed = api.get(f"/jobs/{job['id']}").json()  # (the tests' jobs run at once)
    assert followed["status"] == "done" and followed["report"]["sessions"] == 1
    assert followed["outcome"][0]["level"] == "success"
    assert Job.objects.get().options["encrypt"] == "plain"


def test_a_job_of_another_owner_or_of_another_kind_is_404(owner, other_owner, api):
    theirs = Job.objects.create(user=other_owner, kind=Job.Kind.BACKUP_CREATE)
    import_job = Job.objects.create(user=owner, kind=Job.Kind.SESSIONS_IMPORT)
    for job in (theirs, import_job):
        response = api.get(f"/jobs/{job.pk}")
        assert response.status_code == 404 and "no backup job" in response.json()["message"]

import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cars_app.models import NOTES_MAX_CHARS
from plugtrack_site.errors import PlugTrackError
from sessions_app.bounds import most_cost
from sessions_app.imports.csv_format import HEADER, CsvFileError
from sessions_app.imports.csv_io import charging_sessions_export, charging_sessions_import
from sessions_app.models import ChargingSession

from ..csv_helpers import read_csv

FIELDS = HEADER  # the 14 columns are the model's field names


def stored_rows(car) -> list[tuple]:
    return list(car.sessions.order_by("date", "odometer", "id").values_list(*FIELDS))


@pytest.fixture
def car_with_sessions(owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    make_session(
        car,
        "2025-03-02",
        1100,
        "25.125",
        charge_type="DC",
        charge_power_kw=Decimal("50.5"),
        location_label="=cmd|' /C calc'!A0",
        charge_network="+Gridserve",
        duration_mins=31,
        cost_per_kwh=Decimal("0.79"),
        total_cost_gbp=Decimal("19.85"),
        soc_from=10,
        soc_to=90,
        ambient_temp_c=Decimal("-2.5"),
        notes='multi\nline, "quoted"',
    )
    make_session(car, "2025-03-01", 1000, "30.000", location_label="@home", notes="-5 outside")
    make_session(car, "2025-03-03", 1200, "0", location_label="'=already quoted", notes="\ttabbed")
    return car


def test_export_writes_the_header_and_canonical_values_sorted(owner, car_with_sessions, tmp_path):
    target = tmp_path / "out.csv"
    assert charging_sessions_export(user=owner, car=car_with_sessions, target=target) == 3
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(HEADER)
    rows = read_csv(target)
    assert [row["date"] for row in rows] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert rows[0]["charge_delivered_kwh"] == "30"  # no float noise, no trailing zeros
    assert rows[1]["charge_delivered_kwh"] == "25.125" and rows[1]["cost_per_kwh"] == "0.79"
    assert rows[0]["charge_power_kw"] == "" and rows[0]["total_cost_gbp"] == ""  # blanks for empty


def test_text_cells_are_guarded_against_formula_injection(owner, car_with_sessions, tmp_path):
    target = tmp_path / "out.csv"
    charging_sessions_export(user=owner, car=car_with_sessions, target=target)
    rows = read_csv(target)
    assert rows[0]["location_label"] == "'@home" and rows[0]["notes"] == "'-5 outside"
    assert rows[1]["location_label"] == "'=cmd|' /C calc'!A0" and rows[1]["charge_network"] == "'+Gridserve"
    assert rows[2]["location_label"] == "''=already quoted" and rows[2]["notes"] == "'\ttabbed"


def test_export_delete_import_gives_equal_rows_and_a_byte_identical_second_export(owner, car_with_sessions, tmp_path):
    before = stored_rows(car_with_sessions)
    first = tmp_path / "first.csv"
    charging_sessions_export(user=owner, car=car_with_sessions, target=first)
    car_with_sessions.sessions.all().delete()

    report = charging_sessions_import(user=owner, car=car_with_sessions, source=first)

    assert report.ok and report.inserted == 3
    assert stored_rows(car_with_sessions) == before
    second = tmp_path / "second.csv"
    charging_sessions_export(user=owner, car=car_with_sessions, target=second)
    assert second.read_bytes() == first.read_bytes()


def test_the_longest_note_round_trips_and_a_longer_one_is_an_invalid_row(owner, make_car, make_session, tmp_path):
    car = make_car(owner)
    longest = ('"x", \n' * NOTES_MAX_CHARS)[:NOTES_MAX_CHARS]  # quotes doubled and line breaks kept in the CSV
    make_session(car, "2025-01-01", 10, "5", notes=longest)
    path = tmp_path / "long.csv"
    charging_sessions_export(user=owner, car=car, target=path)
    car.sessions.all().delete()
    report = charging_sessions_import(user=owner, car=car, source=path)
    assert report.ok and car.sessions.get().notes == longest

    car.sessions.all().delete()
    path.write_text(path.read_text().replace('x""', 'xy""', 1))
    report = charging_sessions_import(user=owner, car=car, source=path)
    assert [(issue.row, issue.field) for issue in report.errors] == [(2, "notes")]
    assert "at most 10000 characters" in report.errors[0].message and not car.sessions.exists()


def test_export_filters_by_car_and_inclusive_dates(owner, car_with_sessions, make_car, make_session, other_owner):
    other_car = make_car(owner, name="Zoe")
    make_session(other_car, "2025-03-02", 50)
    make_session(make_car(other_owner, name="Theirs"), "2025-03-02", 70)

    def exported(**filters) -> list[str]:
        stream = io.StringIO()
        charging_sessions_export(user=owner, target=stream, **filters)
        return [line.split(",")[1] for line in stream.getvalue().splitlines()[1:] if line[:1].isdigit()]

    assert exported(car=car_with_sessions, date_from=dt.date(2025, 3, 2), date_to=dt.date(2025, 3, 3)) == [
        "1100",
        "1200",
    ]
    assert exported(car=other_car) == ["50"]
    assert sorted(exported()) == ["1000", "1100", "1200", "50"]  # all of alice's cars, never bob's


def test_an_empty_date_range_and_another_users_car_are_refused(owner, other_owner, make_car, tmp_path):
    with pytest.raises(CsvFileError, match="The date range is empty"):
        charging_sessions_export(
            user=owner, target=tmp_path / "x.csv", date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 1, 1)
        )
    with pytest.raises(CsvFileError, match="is not one of alice's cars"):
        charging_sessions_export(user=owner, target=tmp_path / "x.csv", car=make_car(other_owner))
    assert not (tmp_path / "x.csv").exists()


def test_a_failed_export_leaves_no_partial_file(owner, car_with_sessions, tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("the previous export\n")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sessions_app.imports.resources.ChargingSessionResource.export_resource", broken)
    with pytest.raises(RuntimeError):
        charging_sessions_export(user=owner, car=car_with_sessions, target=target)
    assert target.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_export_to_a_missing_folder_is_refused(owner, car_with_sessions, tmp_path):
    with pytest.raises(PlugTrackError, match="does not exist"):
        charging_sessions_export(user=owner, car=car_with_sessions, target=tmp_path / "no" / "out.csv")


# Any valid session survives export -> import unchanged.
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    | st.sampled_from("=+-@'\t\r\n,\""),
    max_size=40,
).map(str.strip)


def _decimal(places: int, maximum: int, minimum: int = 0):
    return st.decimals(min_value=minimum, max_value=maximum, places=places, allow_nan=False, allow_infinity=False)


def _within_bounds(session: dict) -> dict:
    """A total cost no more than the energy at the most a kWh costs (£2.00 by default): a hard bound."""
    if session["total_cost_gbp"] is not None:
        session["total_cost_gbp"] = min(session["total_cost_gbp"], most_cost(session["charge_delivered_kwh"], 2))
    return session


valid_sessions = st.fixed_dictionaries(
    {
        "date": st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
        "odometer": st.integers(min_value=0, max_value=2_000_000),
        "charge_type": st.sampled_from(["AC", "DC"]),
        "charge_power_kw": st.none() | _decimal(2, 9999),
        "location_label": _text,
        "charge_network": _text,
        "charge_delivered_kwh": _decimal(3, 97),  # at most 1.5 × the battery (64.8 kWh): a hard bound
        "duration_mins": st.none() | st.integers(min_value=0, max_value=100_000),
        "cost_per_kwh": st.none() | _decimal(4, 2),  # at most the most a kWh costs
        "total_cost_gbp": st.none() | _decimal(2, 194),
        "soc_from": st.none() | st.integers(min_value=0, max_value=50),
        "soc_to": st.none() | st.integers(min_value=50, max_value=100),
        "ambient_temp_c": st.none() | _decimal(1, 60, minimum=-50),
        "notes": _text,
    }
).map(_within_bounds)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=valid_sessions)
def test_any_valid_session_survives_export_then_import(owner, make_car, session):
    ChargingSession.objects.all().delete()
    car = owner.cars.first() or make_car(owner)
    if session["total_cost_gbp"] is None and session["cost_per_kwh"] is not None:
        # A blank total is derived on import; store what the import would, so the rows compare.
        session["total_cost_gbp"] = (session["cost_per_kwh"] * session["charge_delivered_kwh"]).quantize(
            Decimal("0.01")
        )
    ChargingSession.objects.create(user=owner, car=car, **session)
    before = stored_rows(car)

    stream = io.StringIO()
    charging_sessions_export(user=owner, car=car, target=stream)
    ChargingSession.objects.all().delete()
    stream.seek(0)
    report = charging_sessions_import(user=owner, car=car, source=stream)

    assert report.ok, report.errors
    assert stored_rows(car) == before

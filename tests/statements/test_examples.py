"""The issue's worked example, exact, and each scheme's rule (docs/statements.md works them by hand)."""

import datetime as dt
from decimal import Decimal

import pytest

from statements.compute import StatementError, StatementRequest, statement_compute
from statements.models import Rate, ReimbursementProfile

pytestmark = pytest.mark.django_db


def test_uk_advisory_rates_share_the_business_miles_by_kwh(may):
    content = statement_compute(may(business_miles=Decimal(812)))
    assert content["kwh"] == {"home": "180.000", "public": "60.000", "total": "240.000"}
    assert [(line["quantity"], line["rate"], line["amount"]) for line in content["claim_lines"]] == [
        ("609.00", "7p", "42.63"),
        ("203.00", "15p", "30.45"),
    ]
    assert content["claim"] == "73.08"
    assert content["currency"] == "GBP"
    assert content["odometer"] == {"start": 20_000, "end": 20_812}
    assert content["month_miles"] == 812
    assert any("apportionment" in note for note in content["notes"])  # a shared month is an estimate, said so
    assert all(line["estimate"] for line in content["claim_lines"])


def test_germany_pays_the_home_kwh_at_the_official_price(may):
    content = statement_compute(may(scheme="de-kwh"))
    assert content["claim"] == "61.20"  # 180 kWh × €0.34
    assert content["currency"] == "EUR"
    assert [(line["quantity"], line["rate"]) for line in content["claim_lines"]] == [("180.000", "€0.34")]


def test_actual_cost_is_the_sessions_cost(may):
    content = statement_compute(may(scheme="actual"))
    assert content["claim"] == "46.40"  # 4.20 × 3 + 18.00 + 15.80
    assert content["actual_cost"]["gbp"] == "46.40"


def test_business_miles_default_to_all_the_months_miles(may):
    content = statement_compute(may())
    assert content["business_miles"] == {"miles": "812", "source": "all"}
    assert content["claim"] == "73.08"


def test_a_rate_change_in_the_month_uses_each_sessions_date(may):
    Rate.objects.create(scheme="uk-aer", valid_from=dt.date(2026, 5, 15), charging="home", amount=Decimal("0.09"))
    content = statement_compute(may(business_miles=Decimal(812)))
    # home 60 kWh before the 15th at 7p, 120 kWh after at 9p; public 60 kWh at 15p: 812 miles by 60/120/60 of 240.
    assert [(line["quantity"], line["rate"], line["amount"]) for line in content["claim_lines"]] == [
        ("203.00", "7p", "14.21"),
        ("406.00", "9p", "36.54"),
        ("203.00", "15p", "30.45"),
    ]
    assert content["claim"] == "81.20"


def test_mileage_allowance_bands_by_the_tax_years_business_miles(owner, may, make_session):
    from statements.services import statement_finalise

    # April's statement (finalised) had 9,500 business miles: May's first 500 are at 45p, the rest at 25p.
    statement_finalise(request=may(scheme="uk-mileage", business_miles=Decimal(9_500), month=dt.date(2026, 4, 1)))
    content = statement_compute(may(scheme="uk-mileage", business_miles=Decimal(812)))
    assert [(line["quantity"], line["rate"], line["amount"]) for line in content["claim_lines"]] == [
        ("500", "45p", "225.00"),
        ("312", "25p", "78.00"),
    ]
    assert content["claim"] == "303.00"


def test_business_miles_above_the_months_miles_are_a_warning(may):
    content = statement_compute(may(business_miles=Decimal(900)))
    assert any("more than the month's miles" in warning for warning in content["warnings"])
    assert content["claim"] != "0.00"


def test_a_month_with_no_sessions(owner, may):
    content = statement_compute(may(month=dt.date(2026, 7, 1), business_miles=Decimal(10)))
    assert content["sessions"] == [] and content["claim"] == "0.00"
    assert content["odometer"] == {"start": 20_812, "end": 20_812}
    assert "No charging sessions this month." in content["warnings"]


def test_a_car_without_a_profile_needs_a_scheme(owner, may_car):
    with pytest.raises(StatementError, match="no reimbursement profile"):
        statement_compute(StatementRequest(user=owner, car=may_car, month=dt.date(2026, 5, 1)))
    ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="de-kwh", employer="Acme GmbH")
    content = statement_compute(StatementRequest(user=owner, car=may_car, month=dt.date(2026, 5, 1)))
    assert content["claim"] == "61.20" and content["employer"] == "Acme GmbH"


def test_sessions_say_where_their_cost_comes_from(may):
    sessions = statement_compute(may())["sessions"]
    assert [(s["date"], s["where"], s["kwh"], s["cost"], s["cost_source"]) for s in sessions][:2] == [
        ("2026-05-03", "home", "60.000", "4.20", "recorded"),
        ("2026-05-10", "public", "40.000", "18.00", "recorded"),
    ]


def test_business_miles_from_the_sessions_marked_business(owner, may_car, may):
    from sessions_app.models import ChargingSession
    from statements.models import BusinessMark

    ReimbursementProfile.objects.create(user=owner, car=may_car, scheme="uk-aer", employer="Acme",
                                        business_miles=ReimbursementProfile.BusinessMiles.MARKED)  # fmt: skip
    for day in (10, 24):
        BusinessMark.objects.create(user=owner, session=ChargingSession.objects.get(car=may_car, date=f"2026-05-{day}"))
    content = statement_compute(may(scheme=None))
    assert content["business_miles"] == {"miles": "300", "source": "marked"}  # 200 + 100 miles
    assert [s["business"] for s in content["sessions"]] == [False, True, False, True, False]


def test_a_sessions_time_when_known_and_an_estimated_cost_said_so(owner, may_car, may):
    from sessions_app.models import ChargingSession

    ChargingSession.objects.filter(car=may_car, date="2026-05-03").update(
        started_at=dt.datetime(2026, 5, 2, 23, 45, tzinfo=dt.UTC), total_cost_gbp=None,
        estimated_cost_gbp=Decimal("4.05"), cost_source="date",
    )  # fmt: skip
    content = statement_compute(may(scheme="actual"))
    first = content["sessions"][0]
    assert (first["time"], first["cost"], first["cost_source"], first["estimated"]) == (
        "00:45", "4.05", "estimated from the date", True)  # London summer time
    assert content["actual_cost"] == {"gbp": "46.25", "estimated_gbp": "4.05", "sessions_without_cost": 0}
    assert any("estimate by your tariffs" in note for note in content["notes"])
    assert content["claim_lines"][0]["estimate"]

import datetime as dt

import pytest

from statements.compute import StatementRequest
from statements.models import Rate
from statements.seed import RATES_2026, RATES_EARLIER, rates_add


@pytest.fixture(autouse=True)
def seeded_rates(request):
    """The rate table as the migrations leave it: a transactional test elsewhere in the run empties
    every table when it ends, the migrations' rows with them."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        rates_add(Rate, RATES_EARLIER + RATES_2026)


@pytest.fixture
def may_car(owner, make_car, make_session):
    """The issue's month: May 2026, 180 kWh charged at home and 60 kWh in public, 812 miles driven."""
    car = make_car(owner, name="Company Niro")
    make_session(car, "2026-04-28", 20_000, "10", location_label="Home")
    make_session(car, "2026-05-03", 20_200, "60", location_label="Home", total_cost_gbp="4.20")
    make_session(car, "2026-05-10", 20_400, "40", location_label="Tesco Extra Leeds", charge_network="Pod Point",
                 total_cost_gbp="18.00")  # fmt: skip
    make_session(car, "2026-05-17", 20_600, "60", location_label="Home", total_cost_gbp="4.20")
    make_session(car, "2026-05-24", 20_700, "20", location_label="Gridserve Rugby", charge_network="Gridserve",
                 total_cost_gbp="15.80")  # fmt: skip
    make_session(car, "2026-05-31", 20_812, "60", location_label="Home", total_cost_gbp="4.20")
    return car


@pytest.fixture
def may(owner, may_car):
    def request(scheme="uk-aer", business_miles=None, month=dt.date(2026, 5, 1)) -> StatementRequest:
        return StatementRequest(user=owner, car=may_car, month=month, scheme=scheme, business_miles=business_miles)

    return request

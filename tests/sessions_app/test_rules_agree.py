"""Rules that must exist in SQL and in Python (the database sums and flags, Python judges one
session): one definition each, and here proof that both say the same at the boundaries."""

from decimal import Decimal

import pytest

from sessions_app.models import ChargingSession, MonthLabelTotal, kwh_units
from sessions_app.plausibility import Check, _checks_of, efficiency_plausible
from sessions_app.totals import Units


@pytest.mark.parametrize(
    ("miles", "kwh"),
    [(70, "10"), (10, "10"), (71, "10"), (9, "10"), (7000, "1000"), (7001, "1000"), (999, "1000"), (5, "0.005")],
)
def test_plausible_efficiency_in_python_is_the_checks_sql(db, miles, kwh):
    kwh = Decimal(kwh)
    checks = _checks_of(odometer=1000 + miles, odometer_before=1000, kwh_units=kwh_units(kwh))
    flagged = checks & Check.EFFICIENCY_IMPLAUSIBLE
    assert efficiency_plausible(Decimal(miles) / kwh) == (not flagged)


def test_a_sessions_cost_in_python_is_the_totals_sql(owner, make_car, make_session):
    car = make_car(owner)
    sessions = [
        make_session(car, "2025-01-01", 1000, "30.5", total_cost_gbp=Decimal("2.29"), cost_per_kwh=Decimal("0.075")),
        make_session(car, "2025-01-02", 1100, "33.333", cost_per_kwh=Decimal("0.2499")),  # no total: price × kWh
        make_session(car, "2025-01-03", 1200, "0.001", cost_per_kwh=Decimal("0.0001")),  # the smallest of each
        make_session(car, "2025-01-04", 1300, "20"),  # neither: not free, no cost
    ]
    costs = [ChargingSession.cost_of(s.total_cost_gbp, s.cost_per_kwh, s.charge_delivered_kwh) for s in sessions]
    summed = sum(total.cost_units for total in MonthLabelTotal.objects.filter(car=car))
    assert Units.cost(summed) == sum(cost for cost in costs if cost is not None)
    assert costs[-1] is None and sum(total.priced_sessions for total in MonthLabelTotal.objects.filter(car=car)) == 3

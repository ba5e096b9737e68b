"""The figures with worked-out costs: recorded costs, else estimates, and saying which; the cost per
month by band; the share of home kWh charged off-peak. Read from the month totals, as ever."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from sessions_app.analytics import car_months, car_summary
from settings_app.services import user_settings
from tariffs.costs import Selection
from tariffs.models import Assignment
from tariffs.services import costs_recompute

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def niro(owner, make_car, make_tariff, make_session):
    Assignment.objects.create(user=owner, tariff=make_tariff(owner), valid_from=dt.date(2026, 1, 1))
    car = make_car(owner, name="Niro")
    make_session(car, "2026-03-01", 1000, "20", location_label="Tesco", total_cost_gbp=Decimal("5.55"))  # public
    make_session(car, "2026-03-28", 1100, "49", location_label="Home", started_at=dt.datetime(2026, 3, 28, 22, 30,
                 tzinfo=LONDON), ended_at=dt.datetime(2026, 3, 29, 6, 30, tzinfo=LONDON))  # fmt: skip
    # A recorded home cost with times: its cost split by band as the estimate splits it (all off-peak here).
    make_session(car, "2026-04-02", 1200, "14", location_label="Home", total_cost_gbp=Decimal("1.40"),
                 started_at=dt.datetime(2026, 4, 2, 23, 30, tzinfo=LONDON),
                 ended_at=dt.datetime(2026, 4, 3, 1, 30, tzinfo=LONDON))  # fmt: skip
    costs_recompute(selection=Selection(user=owner), apply=True)
    return car


def test_the_summary_uses_recorded_costs_else_estimates_and_says_how_much_is_estimated(owner, niro):
    summary = car_summary(car=niro, settings=user_settings(user=owner.pk))
    assert summary.cost_gbp == Decimal("13.32")  # 5.55 + 6.37 (estimated) + 1.40 (recorded, not its 0.98 estimate)
    assert (summary.estimated_sessions, summary.estimated_cost_gbp) == (1, Decimal("6.37"))
    assert f"{summary.estimated_percent:.0f}" == "48"
    assert (summary.home_banded_kwh, summary.home_off_peak_kwh) == (Decimal(63), Decimal(49))  # 35 + 14 of 49 + 14
    assert f"{summary.home_off_peak_percent:.0f}" == "78"


def test_the_months_split_home_cost_by_band(owner, niro):
    march, april = car_months(car=niro, settings=user_settings(user=owner.pk))
    assert (march.home_off_peak_cost_gbp, march.home_peak_cost_gbp, march.public_cost_gbp) == (
        Decimal("2.45"), Decimal("3.92"), Decimal("5.55"),
    )  # fmt: skip
    assert (april.home_off_peak_cost_gbp, april.home_peak_cost_gbp) == (Decimal("1.40"), 0)


def test_the_pages_say_which_costs_are_estimated(owner_client, niro):
    html = owner_client.get(reverse("admin:cars_app_car_analytics", args=[niro.pk])).content.decode()
    assert "≈ £13.32, 48% estimated" in html
    assert "the cost recorded, else estimated by your tariffs (1 session(s) estimated)" in html
    assert "78% of home kWh" in html and "Cost per month by band" in html
    assert "≈ 13.32, 48% estimated" in owner_client.get(reverse("admin:cars_app_car_changelist")).content.decode()
    sessions = owner_client.get(reverse("admin:sessions_app_chargingsession_changelist")).content.decode()
    assert "≈ £6.37" in sessions and "£5.55" in sessions

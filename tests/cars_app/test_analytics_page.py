import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from cars_app import charts
from sessions_app import analytics
from settings_app.services import settings_update, user_settings


def page(client, car) -> str:
    response = client.get(reverse("admin:cars_app_car_analytics", args=[car.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def known_car(owner, make_car, make_session):
    """Three months of known numbers: Jan home only, Feb nothing, Mar home and public."""
    monthly_full_charge = {
        "recommended_full_charge_enabled": True,
        "recommended_full_charge_frequency_value": 1,
        "recommended_full_charge_frequency_unit": "months",
    }
    car = make_car(owner, name="Niro", **monthly_full_charge)
    make_session(car, "2025-01-02", 1000, "10", cost_per_kwh=Decimal("0.10"), location_label="Home", soc_to=100)
    make_session(car, "2025-01-20", 1120, "30", cost_per_kwh=Decimal("0.10"), location_label="Home")
    make_session(car, "2025-03-05", 1300, "45", total_cost_gbp=Decimal("36.00"), location_label="Tesco")
    return car


def test_the_page_shows_the_figures_of_the_selectors(owner_client, owner, known_car):
    html = page(owner_client, known_car)
    summary = analytics.car_summary(car=known_car, settings=user_settings(user=owner))
    assert f"<dd>{summary.sessions:,}</dd>" in html
    assert "<dd>85.0 kWh</dd>" in html and f"<dd>£{summary.cost_gbp:,.2f}</dd>" in html
    assert f"<dd>{summary.efficiency_mpkwh:.2f} mi/kWh (measured)</dd>" in html
    assert f"<dd>{summary.ev_ppm:.2f} p/mi</dd>" in html and "<dd>9.77 p/mi</dd>" in html
    assert f"<dd>£{summary.savings_gbp:,.2f}</dd>" in html
    assert "<dd>47% of kWh</dd>" in html  # 40 of 85 kWh at home


def test_the_charts_are_inline_svg_with_the_monthly_values(owner_client, known_car):
    html = page(owner_client, known_car)
    assert html.count('<svg class="pt-chart"') == 4
    assert "<title>Jan 2025 home: 40.00 kWh</title>" in html
    assert "<title>Mar 2025 public: 45.00 kWh</title>" in html
    assert "<title>Jan 2025 home: 4.00 £</title>" in html
    assert "<title>Jan 2025: 2.50 p/mi</title>" in html  # the second session: £3 over 120 miles
    assert "Feb 25" in html  # an empty month is still on the axis
    # Nothing loaded from elsewhere (not "cdn" anywhere: a random CSRF token may hold those letters).
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_the_charts_have_round_axis_steps_and_fill_the_page(owner_client, known_car):
    html = page(owner_client, known_car)
    energy, cost, per_mile, efficiency = html.split('<svg class="pt-chart"')[1:]
    y_labels = re.compile(r'text-anchor="end" fill="#555">([^<]+)</text>')
    assert y_labels.findall(energy) == ["0", "10", "20", "30", "40", "50"]  # 45 kWh in March at most
    assert y_labels.findall(cost) == ["0", "10", "20", "30", "40"]  # £36 in March
    assert y_labels.findall(efficiency) == ["0", "1", "2", "3", "4"]  # 4.0 mi/kWh at most
    assert 'viewBox="0 0 1160 280"' in energy
    assert "max-width" not in (Path(__file__).parents[2] / "cars_app/static/cars_app/analytics.css").read_text()


@pytest.mark.parametrize(
    "highest, labels",
    [
        (7.2, ["0", "2", "4", "6", "8"]),
        (11.25, ["0", "5", "10", "15"]),  # not 3.75, 7.5, 11.25
        (80_000, ["0", "20k", "40k", "60k", "80k"]),  # not 8e+04
        (1_234, ["0", "500", "1,000", "1,500"]),
        (0.07, ["0.00", "0.02", "0.04", "0.06", "0.08"]),
    ],
)
def test_an_axis_steps_by_one_two_or_five_and_writes_thousands_as_k(highest, labels):
    axis = charts.Axis.around(highest)
    assert [axis.label(value) for value in axis.ticks] == labels


def test_the_petrol_line_follows_the_settings(owner_client, owner, known_car):
    settings_update(user=owner, values={"petrol_price_p_per_litre": Decimal("150"), "petrol_mpg": Decimal("50")})
    html = page(owner_client, known_car)
    assert "<dd>13.64 p/mi</dd>" in html


def test_a_car_without_sessions_says_not_enough_data(owner_client, owner, make_car):
    html = page(owner_client, make_car(owner, name="New"))
    assert html.count("not enough data to draw yet") == 4
    assert 'class="pt-chart"' not in html


def test_the_full_charge_reminder(owner_client, known_car):
    html = page(owner_client, known_car)
    assert "Last full charge 02 Jan 2025" in html and "overdue by" in html


def test_full_charge_status_due_and_overdue(owner, make_car, make_session):
    car = make_car(owner, recommended_full_charge_enabled=True, recommended_full_charge_frequency_value=1,
                   recommended_full_charge_frequency_unit="months")  # fmt: skip
    assert "No full charge" in analytics.full_charge_status(car=car).text
    make_session(car, "2025-01-31", 100, soc_to=96)
    status = analytics.full_charge_status(car=car, today=dt.date(2025, 2, 20))
    assert status.due == dt.date(2025, 2, 28) and status.overdue_days == 0 and "next due by 28 Feb 2025" in status.text
    late = analytics.full_charge_status(car=car, today=dt.date(2025, 3, 10))
    assert late.overdue_days == 10
    car.recommended_full_charge_frequency_unit = "days"
    car.recommended_full_charge_frequency_value = 14
    assert analytics.full_charge_status(car=car, today=dt.date(2025, 2, 1)).due == dt.date(2025, 2, 14)
    car.recommended_full_charge_enabled = False
    assert analytics.full_charge_status(car=car) is None


def test_links_and_scoping(owner_client, owner, other_owner, known_car, make_car):
    url = reverse("admin:cars_app_car_analytics", args=[known_car.pk])
    assert url in owner_client.get(reverse("admin:cars_app_car_changelist")).content.decode()
    assert url in owner_client.get(reverse("admin:cars_app_car_change", args=[known_car.pk])).content.decode()
    theirs = make_car(other_owner, name="Theirs")
    assert owner_client.get(reverse("admin:cars_app_car_analytics", args=[theirs.pk])).status_code == 404


def test_car_months_counts_plausible_sessions_only(owner, known_car):
    months = analytics.car_months(car=known_car, settings=user_settings(user=owner))
    assert [m.month for m in months] == [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    january, february, march = months
    assert (january.home_kwh, january.public_kwh, january.efficiency_mpkwh) == (40, 0, 4)  # 120 mi / 30 kWh
    assert february.efficiency_mpkwh is None and february.ev_ppm is None
    assert march.efficiency_mpkwh == 4 and march.ev_ppm == 20  # £36 over 180 miles

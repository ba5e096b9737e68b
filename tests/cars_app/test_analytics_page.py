import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from cars_app import charts
from sessions_app import analytics
from sessions_app.admin.cars import month_charts
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
    assert "Last full charge 2 Jan 2025" in html and "overdue by" in html


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


# The month under way, drawn as "so far"; the headline figures saying what they include; the break-even price explained.

EV_LINE = re.compile(r'<polyline points="([^"]+)" fill="none" stroke="#6a1b9a"')


def frozen_today(monkeypatch, day: dt.date) -> None:
    """The site's today (timezone.localdate) is `day`, at noon in London: a day past, or the test's
    login would have expired by then."""
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: noon)


@pytest.fixture
def december_car(owner, make_car, make_session):
    """Two whole months at home, then one public rapid charge a week into December 2025."""
    car = make_car(owner, name="Niro")
    home = {"cost_per_kwh": Decimal("0.10"), "location_label": "Home"}
    make_session(car, "2025-10-01", 1000, "10", **home)
    make_session(car, "2025-10-20", 1120, "30", **home)  # 4.0 mi/kWh, 2.50 p/mi
    make_session(car, "2025-11-15", 1300, "45", **home)  # 4.0 mi/kWh, 2.50 p/mi
    make_session(car, "2025-12-03", 1360, "20", charge_type="DC", total_cost_gbp=Decimal("17.00"),
                 location_label="Costa Winchester", charge_network="InstaVolt")  # 3.0 mi/kWh, 28.33 p/mi; fmt: skip
    return car


def test_the_month_under_way_is_drawn_so_far_not_like_a_whole_month(owner_client, december_car, monkeypatch):
    frozen_today(monkeypatch, dt.date(2025, 12, 7))
    html = page(owner_client, december_car)
    energy, cost, per_mile, efficiency = html.split('<svg class="pt-chart"')[1:]
    for chart in (energy, cost, per_mile, efficiency):
        assert ">Dec 25</text>" in chart and ">(so far, 7 days)</text>" in chart  # its axis label
    # Its bars hatched (a pattern, outlined in the series' colour), the whole months' filled.
    assert re.search(r'class="pt-bar pt-so-far" fill="url\(#pt-hatch-[a-z0-9-]+\)" stroke="#1565c0">'
                     r"<title>Dec 2025 \(so far, 7 days\) public: 20.00 kWh</title>", energy)  # fmt: skip
    assert 'class="pt-bar" fill="#2e7d32"><title>Nov 2025 home: 45.00 kWh</title>' in energy
    assert energy.count("pt-so-far\"") == 1 and "<pattern id=" in energy
    assert "Dec 25 (so far, 7 days)</text>" in energy  # in the legend
    # Its cost per mile (a 28.33 p/mi spike above petrol) is a hollow point apart, not the line's last point.
    assert re.search(r'<circle class="pt-point pt-so-far" cx="[\d.]+" cy="[\d.]+" r="4" fill="#fff" '
                     r'stroke="#6a1b9a" stroke-width="2"><title>Dec 2025 \(so far, 7 days\): 28.33 p/mi</title>',
                     per_mile)  # fmt: skip
    (line,) = EV_LINE.findall(per_mile)
    dec_x = re.search(r'class="pt-point pt-so-far" cx="([\d.]+)"', per_mile)[1]
    nov_x = re.search(r'cx="([\d.]+)" cy="[\d.]+" r="3" fill="#6a1b9a"><title>Nov 2025: 2.50 p/mi', per_mile)[1]
    assert line.split()[-1].split(",")[0] == nov_x and dec_x not in line  # the line ends at November
    assert "Dec 25 (so far, 7 days), not on the line" in per_mile
    (line,) = EV_LINE.findall(efficiency)
    assert len(line.split()) == 2 and "<title>Dec 2025 (so far, 7 days): 3.00 mi/kWh</title>" in efficiency


def test_a_month_that_is_over_is_drawn_whole(owner_client, december_car, monkeypatch):
    frozen_today(monkeypatch, dt.date(2026, 1, 2))  # December is over; January has no session yet
    html = page(owner_client, december_car)
    assert "so far" not in html.split('<p class="help">')[0] and "pt-so-far" not in html
    per_mile = html.split('<svg class="pt-chart"')[3]
    (line,) = EV_LINE.findall(per_mile)
    assert len(line.split()) == 3 and "<title>Dec 2025: 28.33 p/mi</title>" in per_mile


def test_the_day_count_of_the_first_day_of_a_month(december_car, owner):
    settings = user_settings(user=owner)
    summary = analytics.car_summary(car=december_car, settings=settings)
    energy = month_charts(december_car, settings, summary, today=dt.date(2025, 12, 1))[0][1]
    assert ">(so far, 1 day)</text>" in energy


@pytest.fixture
def flagged_car(owner, make_car, make_session):
    """docs/analytics.md's worked example: the 25 Jan session's odometer flags it and the 20 Jan one."""
    car = make_car(owner, name="Niro", battery_kwh=Decimal("60"))
    make_session(car, "2025-01-01", 1000, "20", cost_per_kwh=Decimal("0.10"))
    make_session(car, "2025-01-10", 1120, "30", cost_per_kwh=Decimal("0.10"))
    make_session(car, "2025-01-20", 1240, "40", cost_per_kwh=Decimal("0.20"))
    make_session(car, "2025-01-25", 1000, "10", cost_per_kwh=Decimal("0.10"))
    return car


def figure(html: str, label: str) -> tuple[str, str]:
    """(value, note) of a headline figure."""
    found = re.search(rf"<dt>{label}</dt><dd>([^<]*)</dd>(?:<dd class=\"pt-figure-note\">([^<]*)</dd>)?", html)
    return found[1], found[2] or ""


def test_the_headline_figures_say_what_they_include(owner_client, flagged_car):
    html = page(owner_client, flagged_car).replace("&#x27;", "'")
    assert figure(html, "Sessions") == ("4", "2 flagged to check")
    assert figure(html, "Energy") == ("100.0 kWh", "all 4 sessions, the 2 flagged included")
    assert figure(html, "Total cost") == ("£14.00", "all 4 sessions, all priced, the 2 flagged included")
    assert figure(html, "Miles counted") == (
        "120", "each since the session before; the first and the 2 flagged left out"
    )
    assert figure(html, "Efficiency") == ("4.00 mi/kWh (measured)", "the miles counted over their kWh")
    assert figure(html, "EV cost per mile") == (
        "2.50 p/mi", "the priced sessions' average price over the efficiency, flagged left out"
    )
    assert figure(html, "Petrol cost per mile") == ("9.77 p/mi", "128.9 p/litre at 60.0 mpg (your settings)")
    assert figure(html, "Charged at home") == (
        "0% of kWh",
        "of the kWh of all 4 sessions, the 2 flagged included; home by your home words (home, house, garage)",
    )
    assert "2 sessions left out</strong> of miles, efficiency and cost per mile (their kWh and cost still count" in html


def test_a_price_missing_is_said_beside_the_cost(owner_client, owner, make_car, make_session):
    car = make_car(owner, name="Zoe")
    make_session(car, "2025-01-01", 1000, "10")
    make_session(car, "2025-01-05", 1120, "30", total_cost_gbp=Decimal("9.90"))
    html = page(owner_client, car)
    assert figure(html, "Total cost") == (
        "£9.90 (1 of 2 sessions priced)", "the priced sessions; one without a price is unknown, not free"
    )
    assert figure(html, "Sessions") == ("2", "none flagged") and figure(html, "Energy")[1] == "all 2 sessions"


def test_the_break_even_price_says_which_efficiency_it_is_at(owner_client, owner, flagged_car, make_car, make_session):
    html = page(owner_client, flagged_car).replace("&#x27;", "'")
    # 9.77 p/mi × 4.00 mi/kWh measured, against the settings page's 9.77 × 4.1 (the default)
    assert figure(html, "Break-even electricity price") == (
        "39.1 p/kWh", "at this car's 4.00 mi/kWh (measured); the settings' 40.0 p/kWh is at the default 4.1 mi/kWh"
    )
    nominal = make_car(owner, name="Nominal", efficiency_mpkwh=Decimal("3.5"))
    make_session(nominal, "2025-01-01", 1000, "10")
    html = page(owner_client, nominal).replace("&#x27;", "'")
    assert figure(html, "Break-even electricity price") == (
        "34.2 p/kWh", "at this car's own figure, 3.50 mi/kWh (not measured); the settings' 40.0 p/kWh is at the "
        "default 4.1 mi/kWh"
    )  # fmt: skip
    new = make_car(owner, name="New")
    make_session(new, "2025-01-01", 1000, "10")
    html = page(owner_client, new)
    assert figure(html, "Break-even electricity price") == (
        "40.0 p/kWh", "at the default 4.1 mi/kWh, as on the settings page (too little measured for this car)"
    )

from decimal import Decimal

import pytest

from sessions_app import analytics
from sessions_app.analytics import EfficiencySource
from sessions_app.models import ChargingSession
from settings_app.petrol import pence_per_kwh_equivalence, petrol_pence_per_mile
from settings_app.services import UserSettings, settings_update, user_settings

DEFAULTS = UserSettings.defaults()


def test_petrol_pence_per_mile_and_equivalence_with_the_defaults():
    petrol_ppm = petrol_pence_per_mile(DEFAULTS)
    # 128.9 p/l × 4.54609 l/gal / 60 mpg
    assert round(petrol_ppm, 2) == Decimal("9.77")
    assert round(pence_per_kwh_equivalence(petrol_ppm, DEFAULTS.default_efficiency_mpkwh), 1) == Decimal("40.0")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Home", True),
        ("Home driveway", True),
        ("my HOUSE", True),
        ("Mum's garage, Leeds", True),
        ("home-office socket", True),
        ("Homebase car park", False),
        ("Greenhouse café", False),
        ("Tesco Extra", False),
        ("", False),
    ],
)
def test_home_is_a_whole_word_case_insensitive_match(label, expected):
    assert analytics.is_home(label, "", DEFAULTS) is expected


def test_home_aliases_with_regex_characters_are_taken_literally():
    assert analytics.has_a_word("Work (car park)", ["car park"]) is True
    assert analytics.has_a_word("anything", [".*"]) is False


@pytest.mark.parametrize(
    "label, network, expected",
    [
        ("Home driveway", "Octopus Intelligent Go", True),  # a home tariff is no public network
        ("Dundee House", "ChargePlace Scotland", False),  # the case: "house", but a public network
        ("Mum's garage", "", True),
        ("Home driveway", "bp pulse", False),  # any case, whole words
        ("Home", "Sourcery", True),  # "Source London" is a network; "Sourcery" is not it
    ],
)
def test_a_session_on_a_public_network_is_public_whatever_its_location_says(label, network, expected):
    assert analytics.is_home(label, network, DEFAULTS) is expected


def test_session_cost_prefers_the_given_total_then_price_times_energy():
    assert ChargingSession.cost_of(Decimal("5.00"), Decimal("0.30"), Decimal("20")) == Decimal("5.00")
    assert ChargingSession.cost_of(None, Decimal("0.245"), Decimal("20")) == Decimal("4.900")
    assert ChargingSession.cost_of(None, None, Decimal("20")) is None


@pytest.mark.parametrize(
    ("miles", "kwh", "expected"),
    [
        (120, "30", Decimal(4)),
        (None, "30", None),  # the baseline: nothing before it
        (0, "30", None),
        (-5, "30", None),
        (100, "0", None),
        (20, "30", None),  # 0.67 mi/kWh: implausible
        (300, "30", None),  # 10 mi/kWh: implausible
        (30, "30", Decimal(1)),
        (210, "30", Decimal(7)),
    ],
)
def test_session_efficiency_only_for_plausible_figures(miles, kwh, expected):
    assert analytics.session_efficiency(miles, Decimal(kwh)) == expected


def test_ev_pence_per_mile():
    assert analytics.ev_pence_per_mile(Decimal("2.25"), 100) == Decimal("2.25")
    assert analytics.ev_pence_per_mile(None, 100) is None
    assert analytics.ev_pence_per_mile(Decimal("2"), 0) is None


def test_car_summary_measures_efficiency_cost_and_savings(owner, make_car, make_session):
    car = make_car(owner, efficiency_mpkwh=Decimal("3.5"))
    make_session(car, "2025-01-01", 1000, "10", cost_per_kwh=Decimal("0.50"), location_label="Home")  # baseline
    make_session(car, "2025-01-05", 1120, "30", cost_per_kwh=Decimal("0.10"), location_label="Home")
    make_session(car, "2025-01-09", 1300, "45", total_cost_gbp=Decimal("36.00"), location_label="Tesco Extra")

    summary = analytics.car_summary(car=car, settings=user_settings(user=owner))

    assert summary.sessions == 3
    assert summary.kwh == Decimal("85")
    assert summary.cost_gbp == Decimal("44.00")  # 5 + 3 + 36
    assert summary.miles == 300
    assert summary.efficiency_mpkwh == Decimal("4")  # 300 mi / 75 kWh after the baseline
    assert summary.efficiency_source is EfficiencySource.MEASURED
    # 44 £ / 85 kWh = 51.76 p/kWh, at 4 mi/kWh = 12.94 p/mi: dearer than petrol's 9.77
    assert round(summary.ev_ppm, 2) == Decimal("12.94")
    assert summary.cheaper_than_petrol is False
    assert round(summary.savings_gbp, 2) == Decimal("-9.52")  # (9.767 - 12.941) p × 300 mi
    assert summary.home_kwh == Decimal("40")


def test_car_efficiency_falls_back_to_the_car_figure_then_the_default(owner, make_car, make_session):
    car = make_car(owner, efficiency_mpkwh=Decimal("3.5"))
    make_session(car, "2025-01-01", 1000, "10")
    make_session(car, "2025-01-05", 1040, "12")  # 40 miles, 12 kWh: not enough data

    summary = analytics.car_summary(car=car, settings=user_settings(user=owner))
    assert (summary.efficiency_mpkwh, summary.efficiency_source) == (Decimal("3.5"), EfficiencySource.CAR_FIGURE)

    car.efficiency_mpkwh = None
    car.save()
    summary = analytics.car_summary(car=car, settings=user_settings(user=owner))
    assert (summary.efficiency_mpkwh, summary.efficiency_source) == (Decimal("4.1"), EfficiencySource.DEFAULT_SETTING)


def test_without_fallback_a_car_lacking_data_has_no_made_up_efficiency(owner, make_car, make_session):
    settings_update(user=owner, values={"allow_efficiency_fallback": False})
    car = make_car(owner, efficiency_mpkwh=Decimal("3.5"))
    make_session(car, "2025-01-01", 1000, "10", cost_per_kwh=Decimal("0.30"))

    summary = analytics.car_summary(car=car, settings=user_settings(user=owner))

    assert summary.efficiency_mpkwh is None
    assert summary.efficiency_source is EfficiencySource.NOT_ENOUGH_DATA
    assert summary.ev_ppm is None and summary.savings_gbp is None


def test_a_car_without_sessions_summarises_to_zero(owner, make_car):
    summary = analytics.car_summary(car=make_car(owner), settings=user_settings(user=owner))
    assert (summary.sessions, summary.kwh, summary.miles, summary.ev_ppm) == (0, 0, 0, None)


def test_petrol_settings_drive_the_comparison(owner):
    settings_update(user=owner, values={"petrol_price_p_per_litre": Decimal("150"), "petrol_mpg": Decimal("50")})
    assert round(petrol_pence_per_mile(user_settings(user=owner)), 2) == Decimal("13.64")


def test_previous_odometer_ignores_filters_on_the_queryset(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000)
    make_session(car, "2025-02-01", 1100)
    make_session(car, "2025-02-01", 1150)
    later = make_session(car, "2025-03-01", 1300)

    from sessions_app.models import ChargingSession

    march = ChargingSession.objects.filter(date__month=3)
    assert [(s.pk, s.odometer_before) for s in march] == [(later.pk, 1150)]

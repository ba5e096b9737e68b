"""Plausibility checks (issue 12): a session that looks wrong against its neighbours or its car is
flagged, never refused: the form asks before saving it, an import says so row by row, the list marks
it, and the analytics leave it out of efficiency and cost per mile, saying how many."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from sessions_app import analytics
from sessions_app.analytics import EfficiencySource
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.models import ChargingSession
from sessions_app.plausibility import Check
from settings_app.services import user_settings

from .csv_helpers import session_row, write_csv
from .test_admin import CHANGELIST, cell

ADD = "admin:sessions_app_chargingsession_add"


def flags(car) -> dict[int, Check]:
    """Each session's flags by its odometer."""
    return {odometer: Check(checks) for odometer, checks in car.sessions.values_list("odometer", "checks")}


@pytest.fixture
def three_sessions(owner, make_car, make_session):
    """The worked example of docs/analytics.md: a 60 kWh car, 240 miles on 70 kWh after the baseline."""
    car = make_car(owner, name="Mine", battery_kwh=Decimal("60"))
    make_session(car, "2025-01-01", 1000, "20", cost_per_kwh=Decimal("0.10"))  # baseline
    make_session(car, "2025-01-10", 1120, "30", cost_per_kwh=Decimal("0.10"))  # 120 mi / 30 kWh = 4.0
    make_session(car, "2025-01-20", 1240, "40", cost_per_kwh=Decimal("0.20"))  # 120 mi / 40 kWh = 3.0
    return car


def summary_of(car):
    return analytics.car_summary(car=car, settings=user_settings(user=car.user))


def test_a_clean_history_is_unflagged_and_measured_as_before(three_sessions):
    summary = summary_of(three_sessions)
    assert set(flags(three_sessions).values()) == {Check(0)}
    # 240 miles / 70 kWh = 3.43 mi/kWh; price over all priced kWh: £13.00 / 90 kWh = 14.44 p/kWh → 4.21 p/mi
    assert (summary.miles, summary.left_out) == (240, 0)
    assert f"{summary.efficiency_mpkwh:.2f}" == "3.43" and summary.efficiency_source is EfficiencySource.MEASURED
    assert f"{summary.ev_ppm:.2f}" == "4.21"


def test_an_odometer_below_the_previous_one_flags_both_and_leaves_them_out(three_sessions, make_session):
    make_session(three_sessions, "2025-01-25", 1000, "10", cost_per_kwh=Decimal("0.10"))  # a typo: 1000, not 1300

    by_date = dict(three_sessions.sessions.values_list("date__day", "checks"))
    # The 1,240 before it is "above the next", the typo "below the previous": which is wrong is the owner's call.
    assert by_date == {1: 0, 10: 0, 20: Check.ODOMETER_ABOVE_NEXT, 25: Check.ODOMETER_BELOW_PREVIOUS}
    summary = summary_of(three_sessions)
    # Before the checks: miles = 1000 - 1000 = 0, "not enough data". Now the 1240 and the typo are left
    # out: 120 miles / 30 kWh = 4.00 mi/kWh; price £3.00 / 30 kWh ... of the unflagged: (2 + 3) / 50 kWh = 10p.
    assert (summary.miles, summary.left_out, summary.sessions) == (120, 2, 4)
    assert f"{summary.efficiency_mpkwh:.2f}" == "4.00" and summary.efficiency_source is EfficiencySource.MEASURED
    assert f"{summary.ev_ppm:.2f}" == "2.50"  # 10 p/kWh / 4.00 mi/kWh
    assert summary.kwh == Decimal("100") and summary.cost_gbp == Decimal("14.00")  # totals still count everything


@pytest.mark.parametrize(
    "kwh, flagged", [("66", False), ("66.001", True)]
)  # a 60 kWh battery × 1.1 = 66 kWh, and 66 kWh over 120 miles is plausible (1.82 mi/kWh)
def test_more_kwh_than_the_battery_and_a_tenth_is_flagged(owner, make_car, make_session, kwh, flagged):
    car = make_car(owner, battery_kwh=Decimal("60"))
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-10", 1120, kwh)
    assert flags(car)[1120] == (Check.KWH_ABOVE_BATTERY if flagged else Check(0))


@pytest.mark.parametrize(
    "miles, kwh, flagged",
    [(70, "10", False), (71, "10", True), (10, "10", False), (9, "10", True), (0, "10", False), (5, "0", True)],
)
def test_an_implied_efficiency_outside_one_to_seven_is_flagged(owner, make_car, make_session, miles, kwh, flagged):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-10", 1000 + miles, kwh)
    later = car.sessions.get(date="2025-01-10")
    assert Check(later.checks) == (Check.EFFICIENCY_IMPLAUSIBLE if flagged else Check(0))


def test_the_same_date_and_odometer_with_another_kwh_flags_both(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-10", 1100, "25")
    make_session(car, "2025-01-10", 1100, "26")
    assert sorted(car.sessions.values_list("charge_delivered_kwh", "checks")) == [
        (Decimal("20"), 0),
        (Decimal("25"), Check.SAME_DATE_AND_ODOMETER),
        (Decimal("26"), Check.SAME_DATE_AND_ODOMETER),  # 0 miles after the other: no efficiency to judge
    ]


def test_a_measured_car_efficiency_outside_one_to_seven_falls_back_and_says_why(owner, make_car, make_session):
    car = make_car(owner, efficiency_mpkwh=Decimal("3.5"))
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-10", 1060, "40")  # 60 mi / 40 kWh = 1.5: plausible
    make_session(car, "2025-01-11", 1060, "30")  # parked and charged again: 0 miles, counted
    summary = summary_of(car)
    # 60 miles / 70 kWh = 0.86 mi/kWh: not believable as the car's figure
    assert (summary.efficiency_mpkwh, summary.efficiency_source) == (Decimal("3.5"), EfficiencySource.CAR_FIGURE)
    assert summary.efficiency_text() == "3.50 (car figure: measured 0.86 mi/kWh is outside 1–7)"


def test_the_form_asks_before_saving_a_flagged_session_then_marks_it(owner_client, three_sessions):
    post = {"car": three_sessions.pk, "date": "2025-01-25", "odometer": "1000", "charge_type": "AC",
            "charge_delivered_kwh": "10"}  # fmt: skip
    response = owner_client.post(reverse(ADD), post)
    html = response.content.decode()
    assert response.status_code == 200 and three_sessions.sessions.count() == 3  # not saved yet
    assert (
        "Please check: the odometer (1,000 mi) is below that of the session before it (20 Jan 2025, 1,240 mi, "
        "40 kWh)." in html
    )
    assert 'name="save_despite_checks"' in html and 'type="checkbox"' in html

    response = owner_client.post(reverse(ADD), post | {"save_despite_checks": "on"}, follow=True)
    assert three_sessions.sessions.count() == 4
    html = response.content.decode()
    assert (
        "Now marked &quot;check&quot;: 20 Jan 2025 · 1,240 mi · 40.0 kWh (odometer above the next session&#x27;s); "
        "25 Jan 2025 · 1,000 mi · 10.0 kWh (odometer below the previous session&#x27;s)." in html
    )


def test_a_plausible_session_saves_without_a_question(owner_client, three_sessions):
    post = {"car": three_sessions.pk, "date": "2025-01-25", "odometer": "1300", "charge_type": "AC",
            "charge_delivered_kwh": "15"}  # fmt: skip
    response = owner_client.post(reverse(ADD), post)
    assert response.status_code == 302 and three_sessions.sessions.count() == 4


def test_the_list_marks_flagged_sessions_and_filters_them(owner_client, three_sessions, make_session):
    make_session(three_sessions, "2025-01-25", 1000, "10")
    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    badges = [re.sub("<[^>]+>", "", c) for c in cell(html, "check_badge")]
    assert badges == ["check", "check", "", ""]  # newest first: the typo, the 1240, then two plausible ones
    assert 'title="odometer below the previous session&#x27;s"' in html

    html = owner_client.get(reverse(CHANGELIST), {"check": "yes"}).content.decode()
    assert cell(html, "odometer_miles") == ["1,000 mi", "1,240 mi"]


def test_the_analytics_page_says_how_many_sessions_were_left_out(owner_client, three_sessions, make_session):
    make_session(three_sessions, "2025-01-25", 1000, "10")
    html = owner_client.get(reverse("admin:cars_app_car_analytics", args=[three_sessions.pk])).content.decode()
    assert "2 sessions left out</strong> of miles, efficiency and cost per mile" in html
    assert f"?car__id__exact={three_sessions.pk}&amp;check=yes" in html
    assert "<dt>Efficiency</dt><dd>4.00 mi/kWh (measured)</dd>" in html


def test_an_import_reports_each_flagged_row_and_still_imports_it(owner, three_sessions, tmp_path):
    rows = [
        session_row(date="2025-02-01", odometer="1400", charge_delivered_kwh="40"),  # 160 mi / 40 kWh: fine
        session_row(date="2025-02-05", odometer="1350", charge_delivered_kwh="20"),  # below the row before it
        session_row(date="2025-02-09", odometer="1500", charge_delivered_kwh="70"),  # over 66 kWh
    ]
    source = write_csv(tmp_path, rows)

    dry = charging_sessions_import(user=owner, car=three_sessions, source=source, options=ImportOptions(dry_run=True))
    report = charging_sessions_import(user=owner, car=three_sessions, source=source)

    for result in (dry, report):
        assert [(w.row, w.field, w.message) for w in result.warnings] == [
            (2, "odometer", "Please check: the odometer (1,400 mi) is above that of the session after it "
                            "(5 Feb 2025, 1,350 mi, 20 kWh)."),
            (3, "odometer", "Please check: the odometer (1,350 mi) is below that of the session before it "
                            "(1 Feb 2025, 1,400 mi, 40 kWh)."),
            (4, "charge_delivered_kwh", "Please check: 70 kWh is more than the car's battery (60 kWh) × 1.1."),
        ]  # fmt: skip
    assert report.inserted == 3
    stored = {odometer: Check(checks) for odometer, checks in three_sessions.sessions.values_list("odometer", "checks")}
    assert stored[1400] == Check.ODOMETER_ABOVE_NEXT and stored[1350] == Check.ODOMETER_BELOW_PREVIOUS
    assert stored[1500] == Check.KWH_ABOVE_BATTERY
    assert ChargingSession.objects.filter(checks__gt=0).count() == 3


def test_the_form_also_says_which_neighbour_it_would_flag(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-20", 1100, "20")  # 100 mi / 20 kWh = 5.0
    post = {
        "car": car.pk,
        "date": "2025-01-10",
        "odometer": "1090",
        "charge_type": "AC",
        "charge_delivered_kwh": "20",
    }  # fmt: skip  (90 mi / 20 kWh = 4.5: plausible itself)
    html = owner_client.post(reverse(ADD), post).content.decode()
    assert (
        "Please check: the session after it (20 Jan 2025, 1,100 mi, 20 kWh) would then be flagged: 10 miles since "
        "the session before it (10 Jan 2025, 1,090 mi, 20 kWh) on 20 kWh is 0.50 mi/kWh, outside 1–7 mi/kWh" in html
    )
    assert car.sessions.count() == 2


def test_a_tick_is_not_carried_over_to_other_figures(owner_client, three_sessions):
    post = {"car": three_sessions.pk, "date": "2025-01-25", "odometer": "1000", "charge_type": "AC",
            "charge_delivered_kwh": "10", "save_despite_checks": "on", "soc_from": "90", "soc_to": "10"}  # fmt: skip
    html = owner_client.post(reverse(ADD), post).content.decode()  # refused for the SoC, not the odometer
    assert "SoC to (10 %) cannot be below SoC from (90 %)." in html
    assert 'name="save_despite_checks" value=""' in html and "checked" not in html.split("save_despite_checks")[1][:40]


def test_deleting_a_session_says_which_sessions_it_flags(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "20")
    middle = make_session(car, "2025-01-10", 1090, "20")
    make_session(car, "2025-01-20", 1180, "20")  # 90 mi / 20 kWh; after the delete 180 / 20 = 9.0
    url = reverse("admin:sessions_app_chargingsession_delete", args=[middle.pk])
    html = owner_client.post(url, {"post": "yes"}, follow=True).content.decode()
    assert "Now marked &quot;check&quot;: 20 Jan 2025 · 1,180 mi · 20.0 kWh (miles per kWh since the previous" in html


def test_an_import_says_which_stored_session_its_rows_flag(owner, make_car, make_session, tmp_path):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-20", 1100, "20")
    source = write_csv(tmp_path, [session_row(date="2025-01-10", odometer="1090", charge_delivered_kwh="20")])
    for dry_run in (True, False):
        report = charging_sessions_import(user=owner, car=car, source=source, options=ImportOptions(dry_run=dry_run))
        assert [(w.row, w.message) for w in report.warnings] == [
            (2, "Please check: the stored session 20 Jan 2025, 1,100 mi, 20 kWh would then be flagged: 10 miles "
                "since the session before it (10 Jan 2025, 1,090 mi, 20 kWh) on 20 kWh is 0.50 mi/kWh, outside "
                "1–7 mi/kWh: is a session missing?"),
        ]  # fmt: skip
    assert car.sessions.get(odometer=1100).checks == Check.EFFICIENCY_IMPLAUSIBLE


def test_changing_a_cars_battery_rechecks_its_sessions(owner_client, owner, make_car, make_session):
    car = make_car(owner, battery_kwh=Decimal("6.4"))  # a typo for 64
    make_session(car, "2025-01-01", 1000, "20")
    make_session(car, "2025-01-10", 1120, "30")
    assert summary_of(car).left_out == 2
    post = {"name": car.name, "make": car.make, "model": car.model, "battery_kwh": "64", "active": "on",
            "recommended_full_charge_frequency_value": "1",
            "recommended_full_charge_frequency_unit": "months"}  # fmt: skip
    response = owner_client.post(reverse("admin:cars_app_car_change", args=[car.pk]), post)
    assert response.status_code == 302
    assert set(car.sessions.values_list("checks", flat=True)) == {0}
    assert summary_of(car).left_out == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_migrating_down_and_up_again_gives_the_same_flags_and_totals(owner, make_car, make_session):
    from django.core.management import call_command
    from django.db import connection

    from .test_sequence import assert_each_keeps_the_odometer_before_it

    car = make_car(owner, battery_kwh=Decimal("60"))
    make_session(car, "2025-01-01", 1000, "20", location_label="Home", charge_network="Octopus")
    make_session(car, "2025-01-10", 1120, "30", location_label="Home", charge_network="ChargePlace Scotland")
    make_session(car, "2025-01-20", 1240, "70", location_label="Home")  # over the battery: flagged
    make_session(car, "2025-01-25", 1000, "10", location_label="Home")  # below the previous: flagged
    try:
        call_command("migrate", "sessions_app", "0005", verbosity=0)  # one total per month and location again
        with connection.cursor() as cursor:
            cursor.execute("SELECT location_label, sessions, kwh_units FROM sessions_app_monthlabeltotal")
            assert cursor.fetchall() == [("Home", 4, 130_000)]
    finally:
        call_command("migrate", verbosity=0)
    assert_each_keeps_the_odometer_before_it(car)  # flags and totals filled again as the writes keep them
    assert summary_of(car).left_out == 2  # the 1,240 (70 kWh; above the next) and the 1,000 after it

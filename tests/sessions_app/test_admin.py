import re
from decimal import Decimal

from django.urls import reverse

from sessions_app.models import ChargingSession
from sessions_app.services import sessions_sequence_recompute
from settings_app.services import settings_update

CHANGELIST = "admin:sessions_app_chargingsession_changelist"


def cell(html: str, field: str) -> list[str]:
    marker = f'class="field-{field}">'
    return [part.split("</td>")[0] for part in html.split(marker)[1:]]


def words(html: str, field: str) -> list[str]:
    """A column's cells as text, badges' words included."""
    return [re.sub("<[^>]+>", "", cell_html) for cell_html in cell(html, field)]


def test_the_session_list_shows_miles_efficiency_cost_home_and_baseline(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "10", cost_per_kwh=Decimal("0.10"), location_label="Home driveway")
    make_session(car, "2025-01-05", 1120, "30", total_cost_gbp=Decimal("6.00"), location_label="Homebase")

    html = owner_client.get(reverse(CHANGELIST)).content.decode()

    # newest first: the second session, then the baseline
    assert words(html, "miles") == ["120", "baseline"]  # the baseline's miles start there
    assert cell(html, "efficiency") == ["4.00 mi/kWh", "–"]
    assert cell(html, "pence_per_mile") == ["5.00p", "–"]
    assert cell(html, "cost_gbp") == ["£6.00", "£1.00"]
    assert cell(html, "energy") == ["30.0 kWh", "10.0 kWh"]
    assert cell(html, "odometer_miles") == ["1,120 mi", "1,000 mi"]
    # A badge where the answer is yes, and nothing (no red cross) where it is no.
    assert words(html, "location") == ["Homebase", "Home driveway home"]
    assert "icon-no.svg" not in html


def test_home_filter_follows_the_users_aliases(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, location_label="Home")
    make_session(car, "2025-01-02", 1100, location_label="Work car park")

    def shown(where: str) -> list[str]:
        html = owner_client.get(reverse(CHANGELIST), {"where": where}).content.decode()
        return [place.removesuffix(" home") for place in words(html, "location")]

    assert shown("home") == ["Home"]
    assert shown("public") == ["Work car park"]
    settings_update(user=owner, values={"home_aliases_csv": ["work"]})
    assert shown("home") == ["Work car park"]


def test_a_staff_user_sees_and_chooses_only_their_own(owner_client, owner, other_owner, make_car, make_session):
    mine, theirs = make_car(owner, name="Mine"), make_car(other_owner, name="Theirs")
    make_session(mine, "2025-01-01", 1000, location_label="My place")
    their_session = make_session(theirs, "2025-01-01", 1000, location_label="Their place")

    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert "My place" in html and "Their place" not in html
    add_form = owner_client.get(reverse("admin:sessions_app_chargingsession_add")).content.decode()
    assert "Mine" in add_form and "Theirs" not in add_form
    change = owner_client.get(reverse("admin:sessions_app_chargingsession_change", args=[their_session.pk]))
    assert change.status_code == 302  # "doesn't exist" for them


def test_a_staff_user_cannot_add_a_session_to_another_users_car(owner_client, other_owner, make_car):
    theirs = make_car(other_owner, name="Theirs")
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_add"),
        {"car": theirs.pk, "date": "2025-01-01", "odometer": "10", "charge_type": "AC", "charge_delivered_kwh": "5"},
    )
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not ChargingSession.objects.exists()


def test_session_validation_messages(owner_client, owner, make_car):
    car = make_car(owner)
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_add"),
        {
            "car": car.pk,
            "date": "2025-01-01",
            "odometer": "10",
            "charge_type": "AC",
            "charge_delivered_kwh": "-1",
            "soc_from": "80",
            "soc_to": "20",
        },
    )
    html = response.content.decode()
    assert "Must be 0 or more." in html
    assert "SoC to (20 %) cannot be below SoC from (80 %)." in html
    assert not ChargingSession.objects.exists()


def test_admin_pages_render_for_a_superuser(admin_client, owner, make_car, make_session):
    session = make_session(make_car(owner), "2025-01-01", 1000)
    for url in (
        reverse("admin:index"),
        reverse(CHANGELIST),
        reverse(CHANGELIST) + "?where=home",
        reverse("admin:sessions_app_chargingsession_add"),
        reverse("admin:sessions_app_chargingsession_change", args=[session.pk]),
        reverse("admin:cars_app_car_change", args=[session.car_id]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_admin_index_lists_the_apps_for_a_staff_owner(owner_client):
    html = owner_client.get(reverse("admin:index")).content.decode()
    for name in ("Cars", "Charging sessions", "Settings"):
        assert name in html


def test_a_home_session_without_a_power_shows_the_home_charging_power(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, location_label="Home", charge_power_kw=None)
    make_session(car, "2025-01-02", 1100, location_label="Tesco", charge_type="DC", charge_power_kw=Decimal("50"))
    make_session(car, "2025-01-03", 1200, location_label="Work")
    settings_update(user=owner, values={"home_charging_speed_kw": Decimal("7.4")})
    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert cell(html, "charge") == ["AC", "DC 50\u00a0kW", "AC 7.4\u00a0kW (home, assumed)"]  # (the power kept whole)


def test_adding_a_session_that_already_exists_is_a_form_error(owner_client, owner, make_car, make_session):
    car = make_car(owner, name="Mine")
    make_session(car, "2025-01-01", 1000, "30")
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_add"),
        {
            "car": car.pk,
            "date": "2025-01-01",
            "odometer": "1000",
            "charge_type": "DC",
            "charge_delivered_kwh": "30.000",
        },
    )
    assert response.status_code == 200
    assert "Mine already has a session on 2025-01-01 at 1000 miles with 30.000 kWh." in response.content.decode()
    assert ChargingSession.objects.count() == 1


def test_the_home_filter_copes_with_thousands_of_home_sessions(owner_client, owner, make_car):
    import datetime as dt

    car = make_car(owner)
    ChargingSession.objects.bulk_create(
        ChargingSession(
            user=owner,
            car=car,
            date=dt.date(2020, 1, 1) + dt.timedelta(days=i),
            odometer=i,
            charge_type="AC",
            charge_delivered_kwh=10,
            location_label="Home",
        )  # fmt: skip
        for i in range(1500)
    )
    sessions_sequence_recompute(car_ids=[car.pk], rows_written=1500)  # what every write path ends with
    response = owner_client.get(reverse(CHANGELIST), {"where": "home"})
    assert response.status_code == 200 and "1500 charging sessions" in response.content.decode()


def test_the_list_pages_through_every_session_in_order_fifty_at_a_time(owner_client, owner, make_car):
    import datetime as dt

    car = make_car(owner)
    ChargingSession.objects.bulk_create(
        ChargingSession(user=owner, car=car, date=dt.date(2024, 1, 1) + dt.timedelta(days=i // 2), odometer=1000 + i,
                        charge_type="AC", charge_delivered_kwh=10)
        for i in range(120)
    )  # fmt: skip
    sessions_sequence_recompute(car_ids=[car.pk])

    def odometers(page: int) -> list[int]:
        html = owner_client.get(reverse(CHANGELIST), {"p": page}).content.decode()
        return [int(c.replace(",", "").removesuffix(" mi")) for c in cell(html, "odometer_miles")]

    shown = [odometers(page) for page in (1, 2, 3)]
    assert [len(rows) for rows in shown] == [50, 50, 20]
    assert sum(shown, []) == list(range(1119, 999, -1))  # newest first, each session once


def test_the_car_filter_offers_my_cars_only(owner_client, owner, other_owner, make_car, make_session):
    niro, zoe = make_car(owner, name="Niro"), make_car(owner, name="Zoe")
    make_car(other_owner, name="Their Tesla")
    make_session(niro, "2025-01-01", 1000, location_label="Niro place")
    make_session(zoe, "2025-01-01", 500, location_label="Zoe place")

    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert f"?car__id__exact={niro.pk}" in html and f"?car__id__exact={zoe.pk}" in html
    assert "Their Tesla" not in html
    filtered = owner_client.get(reverse(CHANGELIST), {"car__id__exact": zoe.pk}).content.decode()
    assert cell(filtered, "location") == ["Zoe place"]


def test_the_row_checkbox_is_the_html_django_would_render(owner, make_car, make_session):
    from django.contrib import admin

    session = make_session(make_car(owner), "2025-01-01", 1000, location_label='Bob\'s "place" <1>')
    model_admin = admin.site.get_model_admin(ChargingSession)
    assert model_admin.action_checkbox(session) == admin.ModelAdmin.action_checkbox(model_admin, session)


def test_deleting_every_session_at_once_names_a_hundred_and_counts_the_rest(owner_client, owner, make_car):
    import datetime as dt

    car = make_car(owner)
    ChargingSession.objects.bulk_create(
        ChargingSession(user=owner, car=car, date=dt.date(2024, 1, 1) + dt.timedelta(days=i), odometer=1000 + i,
                        charge_type="AC", charge_delivered_kwh=10)
        for i in range(130)
    )  # fmt: skip
    sessions_sequence_recompute(car_ids=[car.pk])
    selection = {"action": "delete_selected", "select_across": "1", "index": "0", "_selected_action": ["1"]}
    page = owner_client.post(reverse(CHANGELIST), selection).content.decode()
    assert page.count("<li>Charging session: ") == 100 and "… and 30 more charging sessions" in page
    owner_client.post(reverse(CHANGELIST), {**selection, "post": "yes"})
    assert not ChargingSession.objects.exists() and not car.month_label_totals.exists()


def test_a_new_session_of_the_only_car_has_it_chosen_and_no_baseline_shown(owner_client, owner, make_car):
    car = make_car(owner, name="Niro")
    add = reverse("admin:sessions_app_chargingsession_add")
    page = owner_client.get(add).content.decode()
    assert f'<option value="{car.pk}" selected>Niro</option>' in page
    assert "field-baseline_text" not in page and "icon-no.svg" not in page

    make_car(owner, name="Zoe")
    assert (
        f'<option value="{car.pk}" selected>' not in owner_client.get(add).content.decode()
    )  # two: the person chooses


def test_a_house_on_a_public_network_is_public_in_the_filter_and_the_home_share(
    owner_client, owner, make_car, make_session
):
    from sessions_app.analytics import car_summary
    from settings_app.services import user_settings

    car = make_car(owner)
    make_session(car, "2025-01-01", 1000, "10", location_label="Home", charge_network="Octopus Intelligent Go")
    make_session(car, "2025-01-03", 1100, "30", location_label="Dundee House", charge_network="ChargePlace Scotland")

    def home_shown() -> list[str]:
        html = owner_client.get(reverse(CHANGELIST), {"where": "home"}).content.decode()
        return [place.removesuffix(" home") for place in words(html, "location")]

    assert home_shown() == ["Home"]
    assert car_summary(car=car, settings=user_settings(user=owner)).home_kwh == Decimal("10")
    settings_update(user=owner, values={"public_networks_csv": []})  # the owner knows no public network
    assert home_shown() == ["Dundee House", "Home"]
    assert car_summary(car=car, settings=user_settings(user=owner)).home_kwh == Decimal("40")


def test_a_sessions_form_shows_its_figures_as_the_list_does(owner_client, owner, make_car, make_session):
    """24.5 kWh and £0.79, not the 24.500 and 0.7900 their columns keep; 17:11, not 17:11:00."""
    import datetime as dt

    from django.utils import timezone

    car = make_car(owner)
    session = make_session(
        car, "2026-11-20", 20100, "24.5", cost_per_kwh=Decimal("0.79"), total_cost_gbp=Decimal("19.36"),
        started_at=timezone.make_aware(dt.datetime(2026, 11, 20, 17, 11)),
    )  # fmt: skip
    html = owner_client.get(reverse("admin:sessions_app_chargingsession_change", args=[session.pk])).content.decode()
    assert 'name="charge_delivered_kwh" value="24.5" step="0.001"' in html
    assert 'name="cost_per_kwh" value="0.79"' in html and 'name="total_cost_gbp" value="19.36"' in html
    assert 'name="started_at_1" value="17:11"' in html
    assert "<h2>20 Nov 2026 · 20,100 mi · 24.5 kWh</h2>" in html  # its title, as the list writes it
    car_page = owner_client.get(reverse("admin:cars_app_car_change", args=[car.pk])).content.decode()
    assert 'name="battery_kwh" value="64.8"' in car_page

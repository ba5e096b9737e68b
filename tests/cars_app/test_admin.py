from decimal import Decimal

import pytest
from django.urls import reverse

from cars_app.models import NOTES_MAX_CHARS, Car

CHANGELIST = "admin:cars_app_car_changelist"


@pytest.fixture
def measured_car(owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "10", cost_per_kwh=Decimal("0.075"), location_label="Home")
    make_session(car, "2025-01-05", 1120, "30", cost_per_kwh=Decimal("0.075"), location_label="Home")
    make_session(car, "2025-01-09", 1300, "45", cost_per_kwh=Decimal("0.075"), location_label="Home")
    return car


def test_the_car_list_shows_the_analytics(owner_client, measured_car):
    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert '<td class="field-sessions_count">3</td>' in html
    assert '<td class="field-energy_kwh">85.0</td>' in html
    assert '<td class="field-cost_gbp">6.38</td>' in html
    assert '<td class="field-efficiency">4.00 (measured)</td>' in html
    # 7.5 p/kWh at 4 mi/kWh = 1.88 p/mi against petrol's 9.77; (9.767 - 1.875) p × 300 mi = £23.67 saved
    assert '<span style="color:green">1.88</span> vs 9.77' in html
    assert '<td class="field-savings_gbp">23.67</td>' in html


def test_a_staff_user_sees_only_their_own_cars(owner_client, owner, other_owner, make_car):
    make_car(owner, name="Mine")
    make_car(other_owner, name="Theirs")
    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert "Mine" in html and "Theirs" not in html


def test_a_staff_user_cannot_reach_another_users_car_by_url(owner_client, other_owner, make_car):
    theirs = make_car(other_owner, name="Theirs")
    for view in ("change", "delete", "history"):
        response = owner_client.get(reverse(f"admin:cars_app_car_{view}", args=[theirs.pk]), follow=True)
        assert "Theirs" not in response.content.decode().split("<h1")[1][:300]
        assert b"doesn\xe2\x80\x99t exist" in response.content
    owner_client.post(reverse("admin:cars_app_car_delete", args=[theirs.pk]), {"post": "yes"})
    assert Car.objects.filter(pk=theirs.pk).exists()


def car_form(**changes) -> dict:
    values = {
        "name": "",
        "make": "Tesla",
        "model": "Model 3",
        "battery_kwh": "57.5",
        "efficiency_mpkwh": "",
        "active": "on",
        "recommended_full_charge_frequency_value": "1",
        "recommended_full_charge_frequency_unit": "months",
        "notes": "",
    }
    return values | changes


def test_a_staff_user_adds_a_car_that_is_theirs_and_named_by_default(owner_client, owner, other_owner):
    response = owner_client.post(reverse("admin:cars_app_car_add"), car_form(user=other_owner.pk))
    assert response.status_code == 302
    car = Car.objects.get()
    assert car.user == owner  # the posted user field is ignored: it is not on a staff user's form
    assert car.name == "Tesla Model 3"


def test_the_natural_key_clash_is_a_form_error(owner_client, owner, make_car):
    make_car(owner, make="Tesla", model="Model 3", name="Tesla Model 3")
    response = owner_client.post(reverse("admin:cars_app_car_add"), car_form())
    assert response.status_code == 200
    assert "You already have a Tesla Model 3 named &quot;Tesla Model 3&quot;" in response.content.decode()
    assert Car.objects.count() == 1


def test_invalid_car_values_are_explained(owner_client):
    response = owner_client.post(reverse("admin:cars_app_car_add"), car_form(battery_kwh="0"))
    assert "Battery capacity must be more than 0 kWh." in response.content.decode()


def test_a_superuser_sees_every_car_and_chooses_the_owner(admin_client, owner, other_owner, make_car):
    make_car(owner, name="Mine")
    make_car(other_owner, name="Theirs")
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Mine" in html and "Theirs" in html
    assert 'name="user"' in admin_client.get(reverse("admin:cars_app_car_add")).content.decode()


def test_a_superuser_cannot_move_a_car_to_another_owner(admin_client, owner, other_owner, make_car):
    car = make_car(owner, name="Mine")
    page = admin_client.get(reverse("admin:cars_app_car_change", args=[car.pk])).content.decode()
    assert 'name="user"' not in page  # shown read-only: its sessions would stay behind
    admin_client.post(reverse("admin:cars_app_car_change", args=[car.pk]), car_form(user=other_owner.pk, name="Mine"))
    car.refresh_from_db()
    assert car.user == owner


def test_the_car_form_refuses_a_note_over_the_limit(owner_client):
    response = owner_client.post(reverse("admin:cars_app_car_add"), car_form(notes="n" * (NOTES_MAX_CHARS + 1)))
    assert "Ensure this value has at most 10000 characters (it has 10001)." in response.content.decode()
    assert not Car.objects.exists()


def test_deleting_a_car_counts_its_sessions_instead_of_listing_each_then_deletes_them_all(
    owner_client, owner, measured_car
):
    from sessions_app.models import ChargingSession, MonthLabelTotal

    page = owner_client.get(reverse("admin:cars_app_car_delete", args=[measured_car.pk])).content.decode()
    assert "Car: Niro" in page and "3 charging sessions" in page
    assert "Charging sessions: 3" in page  # the summary
    assert "1,120 mi" not in page and "2025-01-05" not in page  # no session named one by one

    response = owner_client.post(reverse("admin:cars_app_car_delete", args=[measured_car.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Car.objects.filter(pk=measured_car.pk).exists()
    assert not ChargingSession.objects.filter(car_id=measured_car.pk).exists()
    assert not MonthLabelTotal.objects.filter(car_id=measured_car.pk).exists()


def test_a_person_who_may_not_delete_sessions_is_told_so_and_the_car_stays(client, owner, measured_car):
    from django.contrib.auth.models import Permission

    owner.groups.clear()  # only what is granted below: cars, not sessions
    owner.user_permissions.set(Permission.objects.filter(codename__in=["view_car", "delete_car"]))
    client.force_login(owner)
    page = client.get(reverse("admin:cars_app_car_delete", args=[measured_car.pk])).content.decode()
    assert "permission to delete the following" in page and "<li>charging session</li>" in page
    client.post(reverse("admin:cars_app_car_delete", args=[measured_car.pk]), {"post": "yes"})
    assert Car.objects.filter(pk=measured_car.pk).exists() and measured_car.sessions.count() == 3


def test_a_car_without_prices_shows_its_cost_as_unknown_not_free(owner_client, owner, make_car, make_session):
    car = make_car(owner, name="Zoe")
    make_session(car, "2025-01-01", 1000, "10")
    make_session(car, "2025-01-05", 1120, "30")
    analytics_page = reverse("admin:cars_app_car_analytics", args=[car.pk])

    def cost_shown() -> tuple[str, str]:
        car_list = owner_client.get(reverse(CHANGELIST)).content.decode()
        page = owner_client.get(analytics_page).content.decode()
        return car_list.split('class="field-cost_gbp">')[1].split("<")[0], page.split("<dt>Total cost</dt><dd>")[
            1
        ].split("<")[0]

    assert cost_shown() == ("no prices recorded", "no prices recorded")  # not 0.00: unknown is not free
    make_session(car, "2025-01-09", 1300, "45", total_cost_gbp=Decimal("9.90"))
    assert cost_shown() == ("9.90 (1 of 3 sessions priced)", "£9.90 (1 of 3 sessions priced)")

"""The earliest session of each car is its one baseline, whichever path wrote."""

import pytest
from django.urls import reverse

from sessions_app.models import ChargingSession
from sessions_app.services import charging_session_save, charging_sessions_delete, sessions_sequence_recompute


def baselines(car) -> list[int]:
    return list(car.sessions.filter(is_baseline=True).values_list("odometer", flat=True))


def test_earliest_by_date_then_odometer_then_id(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-03-01", 900)
    make_session(car, "2025-02-01", 1200, "20")
    make_session(car, "2025-02-01", 1100, "20")
    assert baselines(car) == [1100]


def test_each_car_has_its_own_baseline(owner, make_car, make_session):
    first, second = make_car(owner, name="A"), make_car(owner, name="B")
    make_session(first, "2025-01-01", 100)
    make_session(second, "2025-06-01", 5000)
    assert baselines(first) == [100] and baselines(second) == [5000]


def test_recompute_repairs_any_state(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-01-01", 100)
    make_session(car, "2025-02-01", 200)
    car.sessions.update(is_baseline=True)
    sessions_sequence_recompute(car_ids=[car.pk])
    assert baselines(car) == [100]


def test_service_save_of_an_earlier_session_moves_the_baseline(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2025-02-01", 200)
    earlier = ChargingSession(car=car, date="2025-01-01", odometer=100, charge_type="AC", charge_delivered_kwh=10)
    charging_session_save(session=earlier)
    assert baselines(car) == [100]
    assert earlier.is_baseline and earlier.user == owner


def test_service_delete_of_the_baseline_promotes_the_next(owner, make_car, make_session):
    car = make_car(owner)
    first = make_session(car, "2025-01-01", 100)
    make_session(car, "2025-02-01", 200)
    charging_sessions_delete(sessions=[first])
    assert baselines(car) == [200]


def session_form(session_or_car, **changes) -> dict:
    values = {
        "car": session_or_car.pk,
        "date": "2025-01-15",
        "odometer": "150",
        "charge_type": "AC",
        "charge_delivered_kwh": "20",
        "location_label": "Home",
        "notes": "",
    }
    return values | changes


@pytest.mark.parametrize("as_superuser", [False, True])
def test_admin_add_recomputes(owner, make_car, make_session, client, admin_user, as_superuser):
    client.force_login(admin_user if as_superuser else owner)
    car = make_car(owner)
    make_session(car, "2025-02-01", 200)
    response = client.post(reverse("admin:sessions_app_chargingsession_add"), session_form(car))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert baselines(car) == [150]
    assert car.sessions.get(odometer=150).user == owner


def test_admin_edit_recomputes(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    first = make_session(car, "2025-01-01", 100)
    second = make_session(car, "2025-02-01", 200)
    url = reverse("admin:sessions_app_chargingsession_change", args=[second.pk])
    response = owner_client.post(url, session_form(car, date="2024-12-01", odometer="50"))
    assert response.status_code == 302
    assert baselines(car) == [50]
    first.refresh_from_db()
    assert not first.is_baseline


def test_admin_delete_recomputes(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    first = make_session(car, "2025-01-01", 100)
    make_session(car, "2025-02-01", 200)
    response = owner_client.post(reverse("admin:sessions_app_chargingsession_delete", args=[first.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert baselines(car) == [200]


def test_admin_bulk_delete_action_recomputes(owner_client, owner, make_car, make_session):
    car = make_car(owner)
    first = make_session(car, "2025-01-01", 100)
    second = make_session(car, "2025-02-01", 200)
    make_session(car, "2025-03-01", 300)
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert baselines(car) == [300]


def test_admin_moving_a_session_to_another_car_recomputes_both(owner_client, owner, make_car, make_session):
    old_car, new_car = make_car(owner, name="Old"), make_car(owner, name="New")
    moved = make_session(old_car, "2025-01-01", 100)
    make_session(old_car, "2025-02-01", 200)
    make_session(new_car, "2025-03-01", 5000)
    url = reverse("admin:sessions_app_chargingsession_change", args=[moved.pk])
    response = owner_client.post(url, session_form(new_car, date="2025-01-01", odometer="4900"))
    assert response.status_code == 302
    assert baselines(old_car) == [200]
    assert baselines(new_car) == [4900]


def test_deleting_a_car_leaves_other_cars_baselines(owner, make_car, make_session):
    kept, deleted = make_car(owner, name="Kept"), make_car(owner, name="Gone")
    make_session(kept, "2025-01-01", 100)
    make_session(deleted, "2025-01-01", 100)
    deleted.delete()
    assert baselines(kept) == [100]
    assert ChargingSession.objects.count() == 1

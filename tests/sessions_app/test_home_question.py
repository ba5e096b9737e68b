""""Is Carport your home?": asked where most of a car's energy is charged at a place that is neither
a home word nor a public network (analytics.home_word_candidate), on the car's analytics page and its
import's report; one click answers (services.home_question_answer), and it is not asked again."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from plugtrack_site.errors import PlugTrackError
from sessions_app.analytics import car_summary, home_word_candidate
from sessions_app.services import home_question_answer
from settings_app.services import settings_update, user_settings

from .csv_helpers import session_row
from .imports.test_csv_admin import confirm, preview

QUESTION = "Is “Carport” your home?"


def analytics_url(car) -> str:
    return reverse("admin:cars_app_car_analytics", args=[car.pk])


def answer_url(car) -> str:
    return reverse("admin:cars_app_car_home_question", args=[car.pk])


@pytest.fixture
def wallbox_car(owner, make_car, make_session):
    """An evcc owner's car: 60 of its 80 kWh at their "Carport", 20 at a public rapid charger."""
    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "30", location_label="Carport")
    make_session(car, "2025-01-10", 1120, "30", location_label="Carport")
    make_session(car, "2025-01-20", 1240, "20", location_label="Costa Winchester", charge_network="InstaVolt")
    return car


def candidate(car):
    return home_word_candidate(car=car, settings=user_settings(user=car.user_id))


def test_the_place_with_most_of_the_energy_neither_home_nor_public_is_the_candidate(wallbox_car):
    found = candidate(wallbox_car)
    assert (found.label, found.kwh, found.car_kwh, found.share_percent) == ("Carport", 60, 80, 75)


def test_no_candidate_at_half_the_energy_or_less(owner, wallbox_car, make_session):
    make_session(wallbox_car, "2025-01-25", 1300, "40", location_label="Tesco", charge_network="Pod Point")
    assert candidate(wallbox_car) is None  # 60 of 120 kWh: not most


def test_labels_differing_in_case_are_one_place_and_a_public_network_is_not_it(owner, make_car, make_session):
    car = make_car(owner, name="Zoe")
    make_session(car, "2025-01-01", 1000, "20", location_label="carport")
    make_session(car, "2025-01-02", 1100, "25", location_label="Carport ")
    make_session(car, "2025-01-03", 1200, "20", location_label="Service station", charge_network="IONITY")
    make_session(car, "2025-01-04", 1300, "15", location_label="Carport", charge_network="Pod Point")  # public
    found = candidate(car)
    assert (found.label, found.kwh, found.car_kwh) == ("Carport", 45, 80)  # spelt as most of its kWh spell it


@pytest.mark.parametrize("label", ["Carport, 1 Main St", "(Carport)", "  "])
def test_a_label_that_cannot_be_one_home_word_is_not_asked_about(owner, make_car, make_session, label):
    car = make_car(owner, name="Zoe")
    make_session(car, "2025-01-01", 1000, "20", location_label=label)
    assert candidate(car) is None


def test_not_asked_once_it_is_a_home_word_or_answered_no(owner, wallbox_car):
    settings_update(user=owner, values={"home_aliases_csv": ["home", "carport"]})
    assert candidate(wallbox_car) is None
    settings_update(user=owner, values={"home_aliases_csv": ["home"], "not_home_places_csv": ["CARPORT"]})
    assert candidate(wallbox_car) is None


def test_the_car_page_asks_and_one_click_adds_the_home_word(owner_client, owner, wallbox_car):
    html = owner_client.get(analytics_url(wallbox_car)).content.decode()
    assert QUESTION in html and "75% of Niro’s energy (60 of 80 kWh) is charged at “Carport”" in html
    assert "none of your home words (home, house, garage)" in html and "<dd>0% of kWh</dd>" in html
    assert f'action="{answer_url(wallbox_car)}"' in html and 'name="csrfmiddlewaretoken"' in html

    response = owner_client.post(
        answer_url(wallbox_car), {"label": "Carport", "answer": "yes", "next": analytics_url(wallbox_car)}, follow=True
    )
    assert response.redirect_chain == [(analytics_url(wallbox_car), 302)]
    html = response.content.decode()
    assert "“Carport” is now one of your home words: 75% of Niro&#x27;s kWh is charged at home (it was 0%)." in html
    assert QUESTION not in html and "<dd>75% of kWh</dd>" in html
    assert user_settings(user=owner).home_aliases_csv == ["home", "house", "garage", "Carport"]
    assert car_summary(car=wallbox_car, settings=user_settings(user=owner)).home_kwh == 60


def test_no_is_remembered_and_not_asked_again(owner_client, owner, wallbox_car):
    response = owner_client.post(answer_url(wallbox_car), {"label": "Carport", "answer": "no"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [(analytics_url(wallbox_car), 302)]  # no `next`: the car's page
    assert "PlugTrack will not ask about “Carport” again" in html and QUESTION not in html
    settings = user_settings(user=owner)
    assert settings.not_home_places_csv == ["Carport"] and settings.home_aliases_csv == ["home", "house", "garage"]
    assert "<dd>0% of kWh</dd>" in html


def test_a_stale_or_forged_answer_changes_nothing(owner_client, owner, wallbox_car):
    for label in ("Tesco", "Carport"):
        if label == "Carport":
            settings_update(user=owner, values={"not_home_places_csv": ["Carport"]})  # answered in another tab
        response = owner_client.post(answer_url(wallbox_car), {"label": label, "answer": "yes"}, follow=True)
        assert f"PlugTrack no longer asks whether “{label}” is your home: nothing was changed." in (
            response.content.decode()
        )
    assert user_settings(user=owner).home_aliases_csv == ["home", "house", "garage"]
    with pytest.raises(PlugTrackError):
        home_question_answer(car=wallbox_car, label="Carport", at_home=True)
    assert owner_client.get(answer_url(wallbox_car)).status_code == 405  # a click is a POST
    response = owner_client.post(answer_url(wallbox_car), {"label": "x", "next": "https://example.com/"})
    assert response["Location"] == analytics_url(wallbox_car)  # never sent elsewhere


def test_another_owners_car_is_neither_asked_about_nor_answered(owner_client, owner, other_owner, make_car,
                                                                make_session):  # fmt: skip
    theirs = make_car(other_owner, name="Theirs")
    make_session(theirs, "2025-01-01", 1000, "30", location_label="Carport")
    assert owner_client.post(answer_url(theirs), {"label": "Carport", "answer": "yes"}).status_code == 404
    assert user_settings(user=other_owner).home_aliases_csv == ["home", "house", "garage"]
    assert user_settings(user=owner).home_aliases_csv == ["home", "house", "garage"]


def test_not_asked_of_someone_who_may_not_change_the_settings(client, db, make_car, make_session):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_car", "view_chargingsession"]))
    car = make_car(viewer, name="Theirs")
    make_session(car, "2025-01-01", 1000, "30", location_label="Carport")
    client.force_login(viewer)
    assert QUESTION not in client.get(analytics_url(car)).content.decode()
    client.post(answer_url(car), {"label": "Carport", "answer": "yes"})
    assert user_settings(user=viewer).home_aliases_csv == ["home", "house", "garage"]


def test_the_import_report_asks_once_the_sessions_are_in(owner_client, owner, make_car):
    car = make_car(owner, name="Niro")
    rows = [
        session_row(date=f"2025-03-{day:02}", odometer=str(1000 + 100 * day), location_label="Carport",
                    charge_network="", cost_per_kwh="0.07")
        for day in range(1, 6)
    ]  # fmt: skip
    checked = preview(owner_client, car, rows)
    assert QUESTION not in checked.content.decode()  # nothing is stored yet
    done = confirm(owner_client, checked)
    html = done.content.decode()
    assert "Imported 5 session(s) into Niro" in html and QUESTION in html
    job_page = done.redirect_chain[-1][0]
    assert f'<input type="hidden" name="next" value="{job_page}">' in html
    response = owner_client.post(answer_url(car), {"label": "Carport", "answer": "yes", "next": job_page}, follow=True)
    assert response.redirect_chain == [(job_page, 302)]
    html = response.content.decode()
    assert "“Carport” is now one of your home words: 100% of Niro" in html and QUESTION not in html
    assert "Carport" in user_settings(user=owner).home_aliases_csv
    assert car_summary(car=car, settings=user_settings(user=owner)).home_kwh == Decimal("152.5")


def test_the_import_reports_question_is_about_the_persons_own_car_only(owner, other_owner, make_car, make_session):
    theirs = make_car(other_owner, name="Theirs")
    make_session(theirs, "2025-01-01", 1000, "30", location_label="Carport")
    request = RequestFactory().get("/admin/jobs/job/1/change/")
    tag = Template("{% load home_question %}{% home_question car_id %}")
    request.user = owner
    assert QUESTION not in tag.render(Context({"request": request, "car_id": theirs.pk}))
    request.user = other_owner
    assert QUESTION in tag.render(Context({"request": request, "car_id": theirs.pk}))

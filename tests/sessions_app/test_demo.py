from io import StringIO

from django.core.management import call_command
from django.urls import reverse

from sessions_app.demo import DEMO_PASSWORD, DEMO_USERNAME
from sessions_app.models import ChargingSession


def test_demo_load_creates_a_year_of_sessions_once_and_prints_the_login(db, client):
    out = StringIO()
    call_command("demo_load", stdout=out)
    assert f"user: {DEMO_USERNAME}  password: {DEMO_PASSWORD}" in out.getvalue()
    sessions = ChargingSession.objects.filter(user__username=DEMO_USERNAME)
    first, last = sessions.order_by("date").first().date, sessions.order_by("date").last().date
    assert 80 <= sessions.count() <= 200 and (last - first).days >= 350
    assert sessions.filter(is_baseline=True).count() == 1
    assert set(sessions.values_list("charge_type", flat=True)) == {"AC", "DC"}

    call_command("demo_load", stdout=(again := StringIO()))
    assert "already has its sessions" in again.getvalue()
    assert sessions.count() == ChargingSession.objects.count()

    login = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "next": reverse("admin:cars_app_car_changelist")}
    html = client.post(reverse("admin:login"), login, follow=True).content.decode()
    assert "Family Niro" in html and "(measured)" in html

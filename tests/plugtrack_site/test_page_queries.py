"""Every admin page an owner uses makes the same number of queries for a car with a short history
and for one with a long one (bench/bench_pages.py times them; this pins their queries)."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from sessions_app.models import ChargingSession
from sessions_app.services import sessions_sequence_recompute


def history(owner, car, sessions: int) -> None:
    ChargingSession.objects.bulk_create(
        ChargingSession(user=owner, car=car, date=f"{2000 + i // 300}-{1 + i // 25 % 12:02}-{1 + i % 25:02}",
                        odometer=1000 + 40 * i, charge_type="DC" if i % 4 else "AC", charge_delivered_kwh=10,
                        cost_per_kwh="0.25" if i % 2 else None, location_label="Home" if i % 3 else "Tesco")
        for i in range(sessions)
    )  # fmt: skip
    sessions_sequence_recompute(car_ids=[car.pk], rows_written=sessions)  # as a writer of that many says


class QueriesSeen:
    """Counts queries as they run (Django empties its own query log as each request starts)."""

    def __init__(self):
        self.sql = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


def pages(car) -> list[str]:
    sessions = reverse("admin:sessions_app_chargingsession_changelist")
    session = car.sessions.order_by("id").first()
    return [
        sessions,
        f"{sessions}?where=home",
        f"{sessions}?q=Tesco",
        f"{sessions}?date__year=2000",
        reverse("admin:sessions_app_chargingsession_change", args=[session.pk]),
        reverse("admin:cars_app_car_changelist"),
        reverse("admin:cars_app_car_analytics", args=[car.pk]),
        reverse("admin:settings_app_setting_changelist"),
        reverse("admin:backups_backup_changelist"),
        reverse("admin:jobs_job_changelist"),
    ]


@pytest.mark.slow
def test_each_page_makes_the_same_queries_whatever_the_history(owner, other_owner, make_car):
    """Two owners with one car each, of 3 and of 400 sessions: each page's query count must match."""
    counts = {}
    for user, size in ((other_owner, 400), (owner, 3)):
        car = make_car(user, name="Niro")
        history(user, car, size)
        client = Client()
        client.force_login(user)
        counts[size] = []
        for url in pages(car):
            client.get(url)  # once first: Django's process-wide caches (content types) fill on first use
            queries = QueriesSeen()
            with connection.execute_wrapper(queries):
                response = client.get(url, follow=True)
            assert response.status_code == 200, url
            counts[size].append(len(queries.sql))
    assert counts[3] == counts[400] and min(counts[3]) > 0


def test_the_car_list_makes_the_same_queries_for_one_car_and_for_a_fleet(owner, other_owner, make_car):
    counts = {}
    for user, cars in ((owner, 1), (other_owner, 6)):
        for index in range(cars):
            history(user, make_car(user, name=f"Car {index}"), 30)
        client = Client()
        client.force_login(user)
        url = reverse("admin:cars_app_car_changelist")
        client.get(url)  # Django's first-use caches
        queries = QueriesSeen()
        with connection.execute_wrapper(queries):
            assert client.get(url).status_code == 200
        counts[cars] = len(queries.sql)
    assert counts[1] == counts[6]

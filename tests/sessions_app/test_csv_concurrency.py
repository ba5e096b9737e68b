"""Two imports of the same file at the same time end with each row stored once.

Needs a database with real concurrent transactions: PostgreSQL (CI runs the suite on it).
"""

import threading

import pytest
from django.db import connection, connections

from sessions_app.csv_io import charging_sessions_import
from sessions_app.models import ChargingSession

from .csv_helpers import session_row, write_csv

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite serialises them)"
)


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_file_at_once_store_each_row_once(owner, make_car, tmp_path):
    car = make_car(owner, name="Niro")
    rows = [session_row(date=f"2025-{1 + i // 28:02}-{1 + i % 28:02}", odometer=str(1000 + 10 * i)) for i in range(300)]
    path = write_csv(tmp_path, rows)
    start = threading.Barrier(2)
    reports, failures = [], []

    def import_once():
        try:
            start.wait()
            reports.append(charging_sessions_import(user=owner, car=car, source=path))
        except Exception as error:  # reported below; a thread cannot fail the test itself
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=import_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert ChargingSession.objects.filter(car=car).count() == 300
    assert sorted((r.inserted, r.skipped_duplicates) for r in reports) == [(0, 300), (300, 0)]
    assert all(report.ok for report in reports)
    assert ChargingSession.objects.filter(car=car, is_baseline=True).count() == 1

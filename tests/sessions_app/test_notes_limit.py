"""Notes have at most 10,000 characters: refused by the admin's forms, and an upgrade never cuts a
longer note that an older version stored (the migration stops and names it instead)."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from cars_app.models import NOTES_MAX_CHARS
from sessions_app.models import ChargingSession

from .csv_helpers import session_row


def test_the_session_form_refuses_a_longer_note(owner_client, owner, make_car):
    car = make_car(owner, name="Niro")
    form = {name: value for name, value in session_row().items() if value} | {"car": car.pk}
    response = owner_client.post(
        reverse("admin:sessions_app_chargingsession_add"), form | {"notes": "n" * (NOTES_MAX_CHARS + 1)}
    )
    assert "Ensure this value has at most 10000 characters (it has 10001)." in response.content.decode()
    assert not ChargingSession.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_upgrade_stops_at_a_longer_note_stored_before_and_cuts_nothing(owner, make_car):
    car = make_car(owner, name="Niro")
    # Stored by an older version (no limit then; the table is the same, only validation changed).
    ChargingSession.objects.create(
        user=owner, car=car, date="2025-01-01", odometer=1, charge_type="AC", charge_delivered_kwh=5,
        notes="n" * (NOTES_MAX_CHARS + 1),
    )  # fmt: skip
    call_command("migrate", "sessions_app", "0001", verbosity=0)
    try:
        with pytest.raises(RuntimeError, match=r"charging session\(s\) with id \d+ are longer than 10,000"):
            call_command("migrate", "sessions_app", verbosity=0)
        assert len(ChargingSession.objects.values_list("notes", flat=True).get()) == NOTES_MAX_CHARS + 1
    finally:
        # In SQL: the model knows columns that the table, stopped half way up, has not yet.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sessions_app_chargingsession")
        call_command("migrate", verbosity=0)
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []  # back where it was

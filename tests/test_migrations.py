"""Every model change has its migration: an upgrade's `migrate` brings each database to the models."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_its_migration():
    said = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=said)
    except SystemExit:
        pytest.fail(f"A model changed without its migration (run makemigrations):\n{said.getvalue()}")

"""`manage.py statement`: a thin wrapper over the service, with clear errors and exit codes."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from statements.models import Statement

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("statement", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_draft_with_the_csv(may_car, tmp_path):
    target = tmp_path / "may.csv"
    text = run("--car", str(may_car.pk), "--month", "2026-05", "--scheme", "uk-aer", "--business-miles", "812",
               "--csv", str(target))  # fmt: skip
    assert "Claim: £73.08" in text and "A draft" in text
    assert not Statement.objects.exists()
    rows = target.read_text().splitlines()
    assert rows[0].startswith("kind,date,time,where")
    assert "total,,,,,,,,,,claim,,,,73.08,GBP" in rows


def test_finalise_and_json(may_car):
    data = json.loads(run("--car", str(may_car.pk), "--month", "2026-05", "--scheme", "de-kwh", "--finalise",
                          "--json"))  # fmt: skip
    assert data["ok"] and data["statement"]["claim"] == "61.20" and data["statement"]["currency"] == "EUR"
    statement = Statement.objects.get()
    assert data["statement_id"] == statement.pk and data["content_sha256"] == statement.content_sha256


def test_the_pdf(may_car, tmp_path):
    target = tmp_path / "may.pdf"
    run("--car", str(may_car.pk), "--month", "2026-05", "--scheme", "uk-aer", "--business-miles", "812",
        "--pdf", str(target))  # fmt: skip
    assert target.read_bytes().startswith(b"%PDF")


def test_business_miles_above_the_months_miles_are_a_warning_not_a_refusal(may_car):
    text = run("--car", str(may_car.pk), "--month", "2026-05", "--scheme", "uk-aer", "--business-miles", "5000")
    assert "Warning: The business miles (5,000) are more than the month's miles by the odometer (812)." in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "May"], "is not a month"),
        (["--month", "2026-05"], "no reimbursement profile"),
        (["--month", "2026-05", "--scheme", "uk-aer", "--business-miles", "lots"], "is not a number"),
        (["--month", "2026-05", "--scheme", "uk-aer", "--business-miles", "-3"], "between 0 and"),
        (["--month", "2026-05", "--scheme", "uk-aer", "--csv", "/nonexistent/x.csv"], "No folder"),
        (["--month", "2099-01", "--scheme", "uk-aer", "--finalise"], "not over yet"),
    ],
)
def test_refused_with_a_message_and_exit_2(may_car, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        run("--car", str(may_car.pk), *args)
    assert caught.value.returncode == 2


def test_an_unknown_car_is_refused(may_car):
    with pytest.raises(CommandError, match="no car with id 999") as caught:
        run("--car", "999", "--month", "2026-05", "--scheme", "uk-aer")
    assert caught.value.returncode == 2


def test_a_month_without_sessions(may_car):
    text = run("--car", str(may_car.pk), "--month", "2026-08", "--scheme", "uk-aer", "--business-miles", "0")
    assert "Claim: £0.00" in text and "No charging sessions this month." in text


def test_finalising_again_keeps_one_version(may_car):
    args = ["--car", str(may_car.pk), "--month", "2026-05", "--scheme", "uk-aer", "--finalise"]
    run(*args)
    run(*args)
    assert Statement.objects.count() == 1 and Statement.objects.get().claim == Decimal("73.08")

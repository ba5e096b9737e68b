"""The statements' admin: make a statement on the page, download it, finalise it, see it as kept."""

from decimal import Decimal

import pytest
from django.urls import reverse

from statements.models import Rate, Statement

pytestmark = pytest.mark.django_db
MAKE = "admin:statements_statement_make"


def query(car, **extra) -> dict:
    return {"car": car.pk, "month": "2026-05", "scheme": "uk-aer", "business_miles": "812"} | extra


def test_the_page_shows_the_statement_in_owners_words(owner_client, may_car):
    page = owner_client.get(reverse(MAKE), query(may_car))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Claim: <strong>£73.08</strong>" in text
    assert "609.00 mile" in text and "203.00 mile" in text
    assert "shared between home and public charging" in text
    assert "Download CSV" in text and "Finalise and keep it" in text


def test_downloads(owner_client, may_car):
    csv = owner_client.get(reverse(MAKE), query(may_car, download="csv"))
    assert csv["Content-Type"].startswith("text/csv") and b"73.08" in csv.content
    pdf = owner_client.get(reverse(MAKE), query(may_car, download="pdf"))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_a_refusal_is_a_message_not_an_error(owner_client, may_car):
    page = owner_client.get(reverse(MAKE), query(may_car, scheme=""), follow=True)
    assert page.status_code == 200 and "has no reimbursement profile" in page.content.decode()
    page = owner_client.get(reverse(MAKE), query(may_car, month="May"))
    assert "is not a month" in page.content.decode()


def test_finalise_then_the_statements_page_and_its_files(owner_client, may_car):
    page = owner_client.post(reverse(MAKE), query(may_car), follow=True)
    statement = Statement.objects.get()
    assert statement.made_by == "admin" and statement.claim == Decimal("73.08")
    text = page.content.decode()
    assert "Finalised" in text and statement.content_sha256 in text and "£73.08" in text
    csv = owner_client.get(reverse("admin:statements_statement_file", args=[statement.pk, "csv"]))
    assert csv.content == bytes(statement.csv)
    listing = owner_client.get(reverse("admin:statements_statement_changelist")).content.decode()
    assert "Make a statement" in listing and "£73.08" in listing


def test_another_owners_statement_is_not_found(client, other_owner, may):
    from statements.services import statement_finalise

    statement = statement_finalise(request=may(business_miles=Decimal(812))).statement
    client.force_login(other_owner)
    assert client.get(reverse("admin:statements_statement_change", args=[statement.pk])).status_code == 404
    assert client.get(reverse("admin:statements_statement_file", args=[statement.pk, "pdf"])).status_code == 404


def test_owners_read_the_rates_and_only_an_administrator_changes_them(owner_client, admin_client):
    rate = Rate.objects.get(scheme="de-kwh")
    url = reverse("admin:statements_rate_change", args=[rate.pk])
    assert "€0.34" in owner_client.get(reverse("admin:statements_rate_changelist")).content.decode()
    owner_client.post(url, {"amount": "0.50"})
    rate.refresh_from_db()
    assert rate.amount == Decimal("0.34")
    admin_client.post(url, {"scheme": "de-kwh", "valid_from": "2026-01-01", "charging": "", "from_business_mile": 0,
                            "amount": "0.35", "source_url": rate.source_url, "source_note": "corrected"})  # fmt: skip
    rate.refresh_from_db()
    assert rate.amount == Decimal("0.35") and rate.edited_at is not None

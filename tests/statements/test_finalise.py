"""Finalised statements: stored with their SHA-256, rendered again byte for byte, never changed; a
change to the month makes the next version."""

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest

from sessions_app.models import ChargingSession
from sessions_app.services import charging_session_save
from statements.compute import StatementError
from statements.models import Statement, StatementFinalisedError
from statements.render import statement_csv, statement_html
from statements.services import statement_content, statement_finalise

pytestmark = pytest.mark.django_db


def test_a_finalised_statement_is_stored_with_its_sha256_and_renders_again_byte_for_byte(may):
    finalised = statement_finalise(request=may(business_miles=Decimal(812)))
    statement = finalised.statement
    assert finalised.created and statement.version == 1 and statement.claim == Decimal("73.08")
    assert statement.content_sha256 == hashlib.sha256(statement.content.encode()).hexdigest()
    assert statement.csv_sha256 == hashlib.sha256(bytes(statement.csv)).hexdigest()
    content = statement_content(statement)
    assert content["finalised"]["version"] == 1
    assert statement_csv(content) == bytes(statement.csv)
    assert statement_html(content) == bytes(statement.html)


def test_the_same_figures_make_no_new_version(may):
    first = statement_finalise(request=may(business_miles=Decimal(812))).statement
    again = statement_finalise(request=may(business_miles=Decimal(812)))
    assert not again.created and again.statement.pk == first.pk
    assert Statement.objects.count() == 1


def test_an_edit_to_the_month_makes_a_new_version_and_leaves_the_first_as_it_was(may, may_car):
    first = statement_finalise(request=may(business_miles=Decimal(812))).statement
    kept = (first.content, bytes(first.csv), bytes(first.html), first.content_sha256)
    session = ChargingSession.objects.get(car=may_car, date=dt.date(2026, 5, 10))
    session.charge_delivered_kwh = Decimal(80)
    charging_session_save(session=session)
    second = statement_finalise(request=may(business_miles=Decimal(812))).statement
    assert second.version == 2 and second.claim != first.claim
    first.refresh_from_db()
    assert (first.content, bytes(first.csv), bytes(first.html), first.content_sha256) == kept
    assert json.loads(first.content)["claim"] == "73.08"


def test_a_finalised_statement_cannot_be_saved_again(may):
    statement = statement_finalise(request=may(business_miles=Decimal(812))).statement
    statement.claim = Decimal("1000.00")
    with pytest.raises(StatementFinalisedError):
        statement.save()


def test_altered_content_is_caught_by_its_sha256(may):
    statement = statement_finalise(request=may(business_miles=Decimal(812))).statement
    Statement.objects.filter(pk=statement.pk).update(content=statement.content.replace("73.08", "99.08"))
    statement.refresh_from_db()
    with pytest.raises(StatementError, match="altered"):
        statement_content(statement)


def test_a_month_not_over_is_not_finalised(may):
    with pytest.raises(StatementError, match="not over yet"):
        statement_finalise(request=may(month=dt.date.today().replace(day=1)))

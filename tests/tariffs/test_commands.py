"""costs_recompute and costs_undo, as a person runs them."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from sessions_app.models import ChargingSession
from tariffs.models import Assignment, CostRecompute

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def session(owner, make_car, make_tariff, make_session):
    Assignment.objects.create(user=owner, tariff=make_tariff(owner), valid_from=dt.date(2026, 1, 1))
    niro = make_car(owner, name="Niro")
    make_session(niro, "2026-03-01", 900, "20", total_cost_gbp=Decimal("3.00"))
    return make_session(niro, "2026-03-28", 1000, "49", location_label="Home",
                        started_at=dt.datetime(2026, 3, 28, 22, 30, tzinfo=LONDON),
                        ended_at=dt.datetime(2026, 3, 29, 6, 30, tzinfo=LONDON))  # fmt: skip


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_preview_then_apply_then_undo(session):
    said = run("costs_recompute")
    assert "Preview (nothing written): 2 session(s), 2 would change." in said
    assert "recorded costs left alone 1 (£3.00)" in said
    assert "Total cost (recorded, else estimated): £3.00 before, £9.37 after" in said
    assert f"session {session.pk} (2026-03-28, 49.000 kWh): none → £6.37" in said
    assert ChargingSession.objects.filter(estimated_cost_gbp__isnull=False).count() == 0

    data = json.loads(run("costs_recompute", "--apply", "--json"))
    assert data["ok"] and data["applied"] and data["changed"] == 2 and data["total_after_gbp"] == "9.37"
    session.refresh_from_db()
    assert session.estimated_cost_gbp == Decimal("6.37") and session.total_cost_gbp is None

    assert "Undone: 2 session(s)" in run("costs_undo", str(data["recompute_id"]))
    session.refresh_from_db()
    assert session.estimated_cost_gbp is None
    with pytest.raises(CommandError, match="Only your latest recompute") as refused:
        run("costs_undo", str(data["recompute_id"]))
    assert refused.value.returncode == 2
    assert CostRecompute.objects.get().undone_at is not None


def test_a_period_and_a_car(session):
    assert "1 session(s)" in run("costs_recompute", "--from", "2026-03-02", "--car", str(session.car_id))
    with pytest.raises(CommandError, match="--to 2026-01-01 is before --from 2026-03-02"):
        run("costs_recompute", "--from", "2026-03-02", "--to", "2026-01-01")
    with pytest.raises(CommandError, match="give a date as YYYY-MM-DD"):
        run("costs_recompute", "--from", "March")
    with pytest.raises(CommandError, match="has no car with id 999"):
        run("costs_recompute", "--car", "999")

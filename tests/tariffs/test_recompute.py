"""Recompute: a preview writes nothing; applied, it writes the estimates that changed (never a
recorded cost) as one undoable change; which tariff prices a session is its most specific assignment."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app.analytics import car_summary
from sessions_app.models import ChargingSession
from settings_app.services import user_settings
from tariffs.costs import AssignmentFinder, Selection
from tariffs.models import Assignment, CostRecompute
from tariffs.services import costs_recompute, costs_recompute_undo

LONDON = ZoneInfo("Europe/London")
pytestmark = pytest.mark.django_db


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LONDON)


def figures(session: ChargingSession) -> tuple:
    session.refresh_from_db()
    return session.estimated_cost_gbp, session.cost_source, session.off_peak_kwh, session.total_cost_gbp


@pytest.fixture
def niro(owner, make_car):
    return make_car(owner, name="Niro")


@pytest.fixture
def go(owner, make_tariff):
    tariff = make_tariff(owner)
    Assignment.objects.create(user=owner, tariff=tariff, valid_from=dt.date(2026, 1, 1))
    return tariff


def test_a_preview_writes_nothing_and_apply_writes_the_estimate_beside_the_recorded_cost(owner, niro, go,
                                                                                        make_session):  # fmt: skip
    timed = make_session(niro, "2026-03-28", 1000, "49", location_label="Home", started_at=local("2026-03-28T22:30"),
                         ended_at=local("2026-03-29T06:30"))  # fmt: skip
    recorded = make_session(niro, "2026-04-02", 1100, "14", location_label="Home", total_cost_gbp=Decimal("5.55"),
                            started_at=local("2026-04-02T23:30"), ended_at=local("2026-04-03T01:30"))  # fmt: skip
    selection = Selection(user=owner)

    preview = costs_recompute(selection=selection)
    assert (preview.sessions, preview.changed, preview.recorded) == (2, 2, 1)
    assert preview.total_before_gbp == Decimal("5.55") and preview.total_after_gbp == Decimal("11.92")
    assert preview.largest[0]["after"] == "6.37"
    assert figures(timed) == (None, "none", None, None)  # nothing written
    assert not CostRecompute.objects.exists()

    applied = costs_recompute(selection=selection, apply=True)
    assert applied.applied and applied.changed == 2
    assert figures(timed) == (Decimal("6.37"), "times", Decimal(35), None)
    assert timed.cost_breakdown["bands"][0] == {"band": "standard", "off_peak": False, "kwh": "14.000",
                                                "pence": "392.0000"}  # fmt: skip
    assert figures(recorded) == (Decimal("0.98"), "recorded", Decimal(14), Decimal("5.55"))  # the recorded cost kept
    summary = car_summary(car=niro, settings=user_settings(user=owner.pk))
    assert summary.cost_gbp == Decimal("11.92") and summary.priced_sessions == 2  # £5.55 recorded + £6.37 estimated

    again = costs_recompute(selection=selection, apply=True)
    assert again.changed == 0 and CostRecompute.objects.count() == 1  # nothing changed: nothing recorded


def test_undo_writes_back_the_previous_estimates(owner, niro, go, make_session):
    session = make_session(niro, "2026-03-28", 1000, "49", location_label="Home",
                           started_at=local("2026-03-28T22:30"), ended_at=local("2026-03-29T06:30"))  # fmt: skip
    first = costs_recompute(selection=Selection(user=owner), apply=True)
    version = go.versions.get()
    version.default_p_per_kwh = Decimal(30)
    version.save()
    second = costs_recompute(selection=Selection(user=owner), apply=True)
    assert figures(session)[0] == Decimal("6.65")  # 14 × 30p + 35 × 7p

    with pytest.raises(Exception, match="Only your latest recompute"):
        costs_recompute_undo(user=owner, recompute=CostRecompute.objects.get(pk=first.recompute_id))
    assert costs_recompute_undo(user=owner, recompute=CostRecompute.objects.get(pk=second.recompute_id)) == 1
    assert figures(session)[:2] == (Decimal("6.37"), "times")
    assert costs_recompute_undo(user=owner, recompute=CostRecompute.objects.get(pk=first.recompute_id)) == 1
    assert figures(session) == (None, "none", None, None)
    assert car_summary(car=niro, settings=user_settings(user=owner.pk)).priced_sessions == 0


def test_a_date_only_session_is_estimated_from_the_timed_sessions_then_from_the_whole_day(owner, niro, go,
                                                                                         make_session):  # fmt: skip
    dated = make_session(niro, "2026-02-10", 1000, "10", location_label="Home")
    costs_recompute(selection=Selection(user=owner), apply=True)
    # No timed session: the whole day's mix, 6 hours at 7p and 18 at 28p: 10 kWh × (6 × 7 + 18 × 28) / 24 = 227.5p
    assert figures(dated)[:3] == (Decimal("2.28"), "date", Decimal("2.5"))

    # A timed session all off-peak a month before: the date-only session is charged off-peak too.
    make_session(niro, "2026-01-10", 900, "20", location_label="Home", started_at=local("2026-01-10T23:30"),
                 ended_at=local("2026-01-11T03:30"))  # fmt: skip
    costs_recompute(selection=Selection(user=owner), apply=True)
    assert figures(dated)[:3] == (Decimal("0.70"), "date", Decimal(10))
    assert dated.cost_breakdown["method"] == "date"

    # ... but not one of more than 90 days before.
    costs_recompute(selection=Selection(user=owner, date_from=dt.date(2026, 5, 1)), apply=True)
    late = make_session(niro, "2026-05-10", 1100, "10", location_label="Home")
    costs_recompute(selection=Selection(user=owner, date_from=dt.date(2026, 5, 1)), apply=True)
    assert figures(late)[0] == Decimal("2.28")


def test_a_session_without_an_assignment_or_a_price_has_no_estimate(owner, niro, make_tariff, make_session):
    early = make_session(niro, "2025-06-01", 1000, "10", location_label="Home")
    tariff = make_tariff(owner)
    Assignment.objects.create(user=owner, tariff=tariff, valid_from=dt.date(2025, 1, 1))  # before its first version
    report = costs_recompute(selection=Selection(user=owner), apply=True)
    assert report.by_source["none"] == 1 and figures(early)[:2] == (None, "none")


def test_the_most_specific_assignment_wins(owner, niro, make_car, make_tariff):
    zoe = make_car(owner, name="Zoe", make="Renault", model="Zoe")
    tariffs = {
        name: make_tariff(owner, name=name) for name in ("owner", "car", "home", "label", "car+home", "car+label")
    }
    day = dt.date(2026, 1, 1)
    for name, scope in [("owner", {}), ("car", {"car": niro}), ("home", {"where": "home"}),
                        ("label", {"location_label": "Tesco Leeds"}), ("car+home", {"car": niro, "where": "home"}),
                        ("car+label", {"car": niro, "location_label": "tesco leeds"})]:  # fmt: skip
        Assignment.objects.create(user=owner, tariff=tariffs[name], valid_from=day, **scope)
    finder = AssignmentFinder(owner)

    def tariff_for(car, label, at_home, when=dt.date(2026, 6, 1)):
        found = finder.for_session(car_id=car.pk, day=when, location_label=label, at_home=at_home)
        return found and found.tariff.name

    assert tariff_for(niro, " Tesco LEEDS", False) == "car+label"
    assert tariff_for(niro, "Home", True) == "car+home"
    assert tariff_for(zoe, "Tesco Leeds", False) == "label"
    assert tariff_for(zoe, "Home", True) == "home"
    assert tariff_for(niro, "Asda", False) == "car"
    assert tariff_for(zoe, "Asda", False) == "owner"
    assert tariff_for(zoe, "Asda", False, when=dt.date(2025, 12, 31)) is None  # before any begins

    # Among equals, the latest begun by the session's date.
    Assignment.objects.create(user=owner, tariff=tariffs["label"], valid_from=dt.date(2026, 3, 1))
    finder = AssignmentFinder(owner)
    assert tariff_for(zoe, "Asda", False) == "label"
    assert tariff_for(zoe, "Asda", False, when=dt.date(2026, 2, 1)) == "owner"


def test_a_recompute_of_one_car_leaves_the_others_alone(owner, niro, go, make_car, make_session):
    zoe = make_car(owner, name="Zoe", make="Renault", model="Zoe")
    mine = make_session(niro, "2026-02-10", 1000, "10", location_label="Home")
    theirs = make_session(zoe, "2026-02-10", 1000, "10", location_label="Home")
    report = costs_recompute(selection=Selection(user=owner, car_id=niro.pk), apply=True)
    assert report.sessions == 1
    assert figures(mine)[1] == "date" and figures(theirs)[1] == "none"


def test_a_preview_sends_the_database_no_write_at_all(owner, niro, go, make_session):
    make_session(niro, "2026-03-28", 1000, "49", location_label="Home", started_at=local("2026-03-28T22:30"),
                 ended_at=local("2026-03-29T06:30"))  # fmt: skip
    make_session(niro, "2026-04-10", 1100, "10", location_label="Home")  # a date only
    make_session(niro, "2026-04-11", 1200, "10", location_label="Tesco", total_cost_gbp=Decimal("7.90"))
    with CaptureQueriesContext(connection) as queries:
        report = costs_recompute(selection=Selection(user=owner))
    assert report.sessions == 3 and report.changed == 3
    verbs = {"INSERT", "UPDATE", "DELETE", "CREATE", "DROP"}
    writes = [query["sql"] for query in queries if query["sql"].lstrip().split()[0].upper() in verbs]
    assert writes == []
    assert not ChargingSession.objects.filter(estimated_cost_gbp__isnull=False).exists()


def test_an_apply_never_touches_a_recorded_cost_and_undo_brings_back_every_figure(owner, niro, go, make_session):
    typed = make_session(niro, "2026-03-28", 1000, "49", location_label="Home", total_cost_gbp=Decimal("4.10"),
                         started_at=local("2026-03-28T22:30"), ended_at=local("2026-03-29T06:30"))  # fmt: skip
    priced = make_session(niro, "2026-04-10", 1100, "10", location_label="Home", cost_per_kwh=Decimal("0.0850"))
    before = {session.pk: (session.total_cost_gbp, session.cost_per_kwh) for session in (typed, priced)}
    report = costs_recompute(selection=Selection(user=owner), apply=True)
    assert report.recorded == 2 and report.recorded_gbp == Decimal("4.95")  # £4.10 + 10 × 8.5p
    assert report.total_before_gbp == report.total_after_gbp == Decimal("4.95")  # the figures use what was recorded
    for session in ChargingSession.objects.all():
        assert (session.total_cost_gbp, session.cost_per_kwh) == before[session.pk]
        assert session.cost_source == "recorded" and session.estimated_cost_gbp is not None  # kept beside it
    costs_recompute_undo(user=owner, recompute=CostRecompute.objects.get(pk=report.recompute_id))
    for session in ChargingSession.objects.all():
        assert (session.total_cost_gbp, session.cost_per_kwh) == before[session.pk]
        assert (session.estimated_cost_gbp, session.cost_source, session.cost_breakdown) == (None, "none", None)

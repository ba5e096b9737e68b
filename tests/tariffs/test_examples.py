"""The issue's four worked examples (docs/tariffs.md works them out by hand), exact to the penny: a
band 23:30–05:30 at 7p, otherwise 28p, Europe/London, a steady 7 kW."""

import datetime as dt
from decimal import Decimal

import pytest

from tariffs.costs import Selection
from tariffs.models import Assignment, HalfHourPrice
from tariffs.pricing import TariffPrices, estimate_from_times
from tariffs.services import costs_recompute

pytestmark = pytest.mark.django_db
LONDON = "Europe/London"


def at(text: str) -> dt.datetime:
    """A local London time, or a UTC one ending in Z."""
    if text.endswith("Z"):
        return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(LONDON))


def parts(estimate) -> list[tuple[str, str]]:
    return [(part.label, f"{part.kwh}") for part in estimate.parts]


def test_a_the_night_the_clocks_go_forward_is_seven_hours(owner, make_tariff):
    prices = TariffPrices.of(make_tariff(owner))
    estimate = estimate_from_times(prices, kwh=Decimal(49), start=at("2026-03-28T22:30"), end=at("2026-03-29T06:30"))
    assert parts(estimate) == [("standard", "7.000"), ("23:30–05:30", "35.000"), ("standard", "7.000")]
    assert estimate.off_peak_kwh == 35
    assert estimate.cost_gbp == Decimal("6.37")  # by the wall clock (8 hours): 6 × 7p + 2 × 28p per 7 kWh = £6.00


def test_b_the_night_the_clocks_go_back_is_nine_hours(owner, make_tariff):
    prices = TariffPrices.of(make_tariff(owner))
    estimate = estimate_from_times(prices, kwh=Decimal(63), start=at("2026-10-24T22:30"), end=at("2026-10-25T06:30"))
    assert parts(estimate) == [("standard", "7.000"), ("23:30–05:30", "49.000"), ("standard", "7.000")]
    assert estimate.cost_gbp == Decimal("7.35")


def test_c_half_hourly_prices(owner, make_tariff):
    tariff = make_tariff(owner, name="Agile", versions=())
    for index, price in enumerate(["10.50", "9.80", "8.10", "7.70"]):
        start = at("2026-01-15T00:00Z") + dt.timedelta(minutes=30 * index)
        HalfHourPrice.objects.create(tariff=tariff, start=start, end=start + dt.timedelta(minutes=30),
                                     p_per_kwh=Decimal(price))  # fmt: skip
    estimate = estimate_from_times(
        TariffPrices.of(tariff), kwh=Decimal("14.4"), start=at("2026-01-15T00:00Z"), end=at("2026-01-15T02:00Z")
    )
    assert [part.kwh for part in estimate.parts] == [Decimal("3.6")] * 4
    assert estimate.cost_gbp == Decimal("1.30")  # 3.6 × 36.1p = 129.96p


def test_d_a_new_version_from_local_midnight(owner, make_tariff):
    tariff = make_tariff(owner, name="Flat", versions=(("2026-01-01", "24.50", []), ("2026-04-01", "27.03", [])))
    estimate = estimate_from_times(
        TariffPrices.of(tariff), kwh=Decimal(14), start=at("2026-03-31T23:00"), end=at("2026-04-01T01:00")
    )
    assert [(part.p_per_kwh, part.kwh) for part in estimate.parts] == [(Decimal("24.50"), 7), (Decimal("27.03"), 7)]
    assert estimate.cost_gbp == Decimal("3.61")  # 171.50p + 189.21p = 360.71p


@pytest.mark.parametrize(
    "name, day, kwh, start, end, expected",
    [
        ("A", "2026-03-28", "49", "2026-03-28T22:30", "2026-03-29T06:30", ("6.37", "35.000")),
        ("B", "2026-10-24", "63", "2026-10-24T22:30", "2026-10-25T06:30", ("7.35", "49.000")),
        ("C", "2026-01-15", "14.4", "2026-01-15T00:00Z", "2026-01-15T02:00Z", ("1.30", "14.400")),
        ("D", "2026-03-31", "14", "2026-03-31T23:00", "2026-04-01T01:00", ("3.61", None)),
    ],
)  # fmt: skip
def test_each_example_as_a_stored_session_recomputed(owner, make_car, make_tariff, make_session, name, day, kwh,
                                                     start, end, expected):  # fmt: skip
    """The same examples end to end: the session's times stored (and read back) by the database, its
    tariff found by its assignment, the cost written by an applied recompute."""
    if name == "C":
        tariff = make_tariff(owner, name="Agile", versions=(("2026-01-01", "30", []),))
        for index, price in enumerate(["10.50", "9.80", "8.10", "7.70"]):
            half = at("2026-01-15T00:00Z") + dt.timedelta(minutes=30 * index)
            HalfHourPrice.objects.create(tariff=tariff, start=half, end=half + dt.timedelta(minutes=30),
                                         p_per_kwh=Decimal(price))  # fmt: skip
    elif name == "D":
        tariff = make_tariff(owner, name="Flat", versions=(("2026-01-01", "24.50", []), ("2026-04-01", "27.03", [])))
    else:
        tariff = make_tariff(owner)
    Assignment.objects.create(user=owner, tariff=tariff, valid_from=dt.date(2026, 1, 1))
    session = make_session(make_car(owner, name="Niro"), day, 1000, kwh, location_label="Home",
                           started_at=at(start), ended_at=at(end))  # fmt: skip
    costs_recompute(selection=Selection(user=owner), apply=True)
    session.refresh_from_db()
    cost, off_peak = expected
    assert (session.estimated_cost_gbp, session.cost_source) == (Decimal(cost), "times")
    assert session.total_cost_gbp is None  # nothing recorded, nothing written there
    assert (f"{session.off_peak_kwh:.3f}" if session.off_peak_kwh else None) == off_peak
    assert sum(Decimal(band["kwh"]) for band in session.cost_breakdown["bands"]) == Decimal(kwh)


def test_a_duration_shorter_than_the_end_is_what_counts(owner, make_car, make_tariff, make_session):
    """Plugged in 22:30 to 06:30, but charging for 2 hours (duration_mins): 14 kWh from 22:30 to 00:30,
    one hour at 28p and one at 7p: 7 × 28p + 7 × 7p = £2.45 (by the end it would be a mix of the night)."""
    Assignment.objects.create(user=owner, tariff=make_tariff(owner), valid_from=dt.date(2026, 1, 1))
    session = make_session(make_car(owner, name="Niro"), "2026-02-02", 1000, "14", location_label="Home",
                           started_at=at("2026-02-02T22:30"), ended_at=at("2026-02-03T06:30"),
                           duration_mins=120)  # fmt: skip
    costs_recompute(selection=Selection(user=owner), apply=True)
    session.refresh_from_db()
    assert (session.estimated_cost_gbp, session.off_peak_kwh) == (Decimal("2.45"), Decimal(7))

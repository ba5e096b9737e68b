"""What pricing.py works out once and shares between days that price alike must be exactly what each
day gives worked out on its own, on every day of a year (clock changes, a new version, a Friday-night
band, a winter band): a day's periods (from a template of its version, weekday and months), and a
date-only session's weights on an ordinary day (from a coverage of its half hours)."""

import datetime as dt
import random
from decimal import Decimal

import pytest

from tariffs.models import HalfHourPrice
from tariffs.pricing import PROFILE_SLOTS, TariffPrices, _day_weights, _day_weights_walked, estimate_from_profile

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["Europe/London"])
def tariff(owner, make_tariff, request):
    winter = 0b110000000011  # Nov–Feb
    tariff = make_tariff(owner, time_zone=request.param, versions=(
        ("2026-01-01", "28", [("23:30", "05:30", "7"), ("16:00", "19:00", "35", 0b0011111)]),
        ("2026-06-15", "26.5", [("22:00", "02:00", "9", 1 << 4), ("02:00", "06:00", "6"), ("17:00", "18:30", "40")]),
    ))  # fmt: skip
    tariff.versions.get(valid_from=dt.date(2026, 1, 1)).bands.filter(start=dt.time(16)).update(months=winter)
    start = dt.datetime(2026, 8, 3, 1, tzinfo=dt.UTC)  # a few half-hourly prices: those days are walked
    for index in range(6):
        half = start + dt.timedelta(minutes=30 * index)
        HalfHourPrice.objects.create(tariff=tariff, start=half, end=half + dt.timedelta(minutes=30),
                                     p_per_kwh=Decimal("3.25") + index)  # fmt: skip
    return tariff


@pytest.mark.parametrize("tariff", ["Europe/London", "America/Santiago"], indirect=True)  # (Chile: at midnight)
def test_every_days_periods_are_those_it_gives_worked_out_alone(tariff):
    prices = TariffPrices.of(tariff)
    day, templated = dt.date(2026, 1, 1), 0
    while day < dt.date(2027, 1, 1):
        start, end = prices.local_midnight(day), prices.local_midnight(day + dt.timedelta(days=1))
        alone = prices._schedule_built(day, start, end, prices.version_on(day))
        assert prices._schedule(day) == alone, day
        assert alone[0].start == start and alone[-1].end == end
        templated += end - start == dt.timedelta(days=1)
        day += dt.timedelta(days=1)
    assert templated == 365 - 2


def test_every_days_weights_are_those_it_gives_walked_on_its_own(tariff):
    prices = TariffPrices.of(tariff)
    chance = random.Random(24)
    profiles = [None, tuple([0] * 46 + [500, 1200] * 6 + [0] * 38)]
    profiles += [tuple(chance.choice([0, 0, 0, chance.randrange(1, 5000)]) for _ in range(PROFILE_SLOTS))
                 for _ in range(2)]  # fmt: skip
    day, covered = dt.date(2026, 1, 1), 0
    while day < dt.date(2027, 1, 1):
        covered += prices.day_coverage(day) is not None
        for profile in profiles:
            prices.__dict__.pop("_weights", None)
            assert _day_weights(prices, day, profile) == _day_weights_walked(prices, day, profile), (day, profile)
        day += dt.timedelta(days=1)
    assert covered == 365 - 4 - 2  # all but the eves and days of the clock changes, and of the half-hourly prices


def test_a_date_only_estimate_before_the_first_version_has_none(tariff):
    prices = TariffPrices.of(tariff)
    assert estimate_from_profile(prices, kwh=Decimal(10), day=dt.date(2025, 12, 31), profile=None) is None
    assert estimate_from_profile(prices, kwh=Decimal(10), day=dt.date(2026, 1, 1), profile=None) is not None

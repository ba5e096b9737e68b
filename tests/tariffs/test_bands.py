"""Bands are checked as TeslaMateAgile checks them: no two price the same time, a gap is the default
price; a refused version names the weekday and the times. A band whose end is at or before its start
crosses midnight, and prices only the mornings after its own days."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tariffs.models import EVERY_DAY, WEEKDAYS, Band, bands_overlaps, days_text
from tariffs.pricing import TariffPrices, estimate_from_times

LONDON = ZoneInfo("Europe/London")


def band(start: str, end: str, days=EVERY_DAY, months=0, price="7") -> Band:
    if isinstance(days, str):
        days = sum(1 << WEEKDAYS.index(day) for day in days.split(","))
    return Band(start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end), days=days, months=months,
                p_per_kwh=Decimal(price))  # fmt: skip


def test_bands_with_gaps_between_them_are_fine():
    assert bands_overlaps([band("00:30", "04:30"), band("13:00", "16:00"), band("23:30", "00:30")]) == []


def test_a_refused_version_names_the_weekday_and_the_times():
    assert bands_overlaps([band("23:30", "05:30", "fri"), band("22:00", "00:30", "fri")]) == [
        "Friday 23:30–05:30 overlaps Friday 22:00–00:30"
    ]


def test_a_band_across_midnight_meets_the_next_mornings_band():
    # Monday 23:00–02:00 runs into Tuesday 01:00–03:00.
    assert bands_overlaps([band("23:00", "02:00", "mon"), band("01:00", "03:00", "tue")]) == [
        "Monday 23:00–02:00 overlaps Tuesday 01:00–03:00"
    ]
    # ... but not Wednesday's; and Sunday night runs into Monday morning.
    assert bands_overlaps([band("23:00", "02:00", "mon"), band("01:00", "03:00", "wed")]) == []
    assert bands_overlaps([band("23:00", "02:00", "sun"), band("01:00", "03:00", "mon")]) == [
        "Sunday 23:00–02:00 overlaps Monday 01:00–03:00"
    ]


def test_bands_that_touch_do_not_overlap():
    assert bands_overlaps([band("00:00", "07:00"), band("07:00", "00:00")]) == []


def test_bands_in_months_that_never_meet_do_not_overlap():
    winter, summer = 0b000000000111, 0b000111000000
    assert bands_overlaps([band("16:00", "19:00", months=winter), band("16:00", "19:00", months=summer)]) == []
    assert bands_overlaps([band("16:00", "19:00", months=winter), band("18:00", "20:00")]) != []


def test_a_friday_night_band_prices_friday_night_and_saturday_morning_not_saturday_night():
    friday_night = band("23:30", "05:30", "fri")
    friday, saturday = dt.date(2026, 3, 6), dt.date(2026, 3, 7)
    assert friday.weekday() == 4

    def local(day, time):
        return dt.datetime.combine(day, dt.time.fromisoformat(time), tzinfo=LONDON)

    assert friday_night.applies_at(local(friday, "23:30"))
    assert friday_night.applies_at(local(saturday, "05:29"))
    assert not friday_night.applies_at(local(saturday, "05:30"))
    assert not friday_night.applies_at(local(saturday, "23:45"))
    assert not friday_night.applies_at(local(friday, "02:00"))  # Thursday's night, not Friday's


@pytest.mark.django_db
def test_a_saturday_night_session_is_not_priced_by_the_friday_night_band(owner, make_tariff):
    tariff = make_tariff(owner, versions=(("2026-01-01", "28", [("23:30", "05:30", "7", 1 << 4)]),))
    prices = TariffPrices.of(tariff)

    def cost(start, end):
        return estimate_from_times(prices, kwh=Decimal(14), start=start.replace(tzinfo=LONDON),
                                   end=end.replace(tzinfo=LONDON)).cost_gbp  # fmt: skip

    assert cost(dt.datetime(2026, 3, 6, 23, 30), dt.datetime(2026, 3, 7, 1, 30)) == Decimal("0.98")  # Fri: 14 × 7p
    assert cost(dt.datetime(2026, 3, 7, 23, 30), dt.datetime(2026, 3, 8, 1, 30)) == Decimal("3.92")  # Sat: 14 × 28p


@pytest.mark.django_db
def test_a_gap_between_bands_is_the_default_price(owner, make_tariff):
    tariff = make_tariff(owner, versions=(("2026-01-01", "30", [("00:00", "04:00", "8"), ("05:00", "07:00", "10")]),))
    estimate = estimate_from_times(
        TariffPrices.of(tariff), kwh=Decimal(21), start=dt.datetime(2026, 2, 2, 1, tzinfo=LONDON),
        end=dt.datetime(2026, 2, 2, 8, tzinfo=LONDON),
    )  # fmt: skip
    assert [(part.label, part.kwh, part.p_per_kwh) for part in estimate.parts] == [
        ("00:00–04:00", 9, 8), ("standard", 3, 30), ("05:00–07:00", 6, 10), ("standard", 3, 30),
    ]  # fmt: skip
    assert estimate.cost_gbp == Decimal("3.12")  # 72 + 90 + 60 + 90 = 312p


def test_days_in_words():
    assert days_text(EVERY_DAY) == "every day"
    assert days_text(0b0011111) == "Mon–Fri"
    assert days_text(0b1100000) == "Sat, Sun"

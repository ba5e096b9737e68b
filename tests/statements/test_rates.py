"""The rate table: seeded by the migrations with the published rates, and never changed by an upgrade."""

import datetime as dt
from decimal import Decimal

import pytest

from statements.models import Rate
from statements.seed import RATES_2026, RATES_EARLIER, rates_add

pytestmark = pytest.mark.django_db


def test_the_migrations_seed_the_published_rates_with_their_source():
    seeded = Rate.objects.filter(seeded=True)
    assert seeded.count() == len(RATES_EARLIER + RATES_2026)
    home = seeded.get(scheme="uk-aer", valid_from=dt.date(2026, 3, 1), charging="home")
    assert home.amount == Decimal("0.07") and "gov.uk" in home.source_url
    assert seeded.get(scheme="de-kwh", valid_from=dt.date(2026, 1, 1)).amount == Decimal("0.34")


def test_an_upgrade_adds_new_rows_and_keeps_an_administrators_edits():
    Rate.objects.filter(scheme="de-kwh", valid_from=dt.date(2026, 1, 1)).update(amount=Decimal("0.35"))
    Rate.objects.filter(scheme="uk-aer", valid_from=dt.date(2026, 3, 1), charging="public").delete()
    later = [("de-kwh", "2027-01-01", "", 0, "0.36", "https://example.org/", "2027")]
    assert rates_add(Rate, RATES_2026 + later) == 2  # the deleted one back, and 2027's
    assert Rate.objects.get(scheme="de-kwh", valid_from=dt.date(2026, 1, 1)).amount == Decimal("0.35")
    assert Rate.objects.filter(scheme="de-kwh").count() == 2


@pytest.mark.parametrize("month, home, public", [
    ("2025-01-01", "0.07", "0.07"),  # one rate wherever the car was charged
    ("2025-10-01", "0.08", "0.14"),  # the first split rates
    ("2026-01-01", "0.07", "0.14"),  # December 2025's quarter
    ("2026-05-01", "0.07", "0.15"),
])  # fmt: skip
def test_each_quarter_has_its_published_rates(month, home, public):
    day = dt.date.fromisoformat(month)
    in_force = {
        charging: Rate.objects.filter(scheme="uk-aer", charging=charging, valid_from__lte=day).latest("valid_from")
        for charging in ("home", "public")
    }
    assert (in_force["home"].amount, in_force["public"].amount) == (Decimal(home), Decimal(public))

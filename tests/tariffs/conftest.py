import datetime as dt
from decimal import Decimal

import pytest

from tariffs.models import EVERY_DAY, Band, Tariff, TariffVersion


@pytest.fixture
def make_tariff():
    """A tariff with one version per (valid_from, default, bands) given: bands as (start, end, price[, days])."""

    def make(user, name="Intelligent Octopus Go", versions=(("2026-01-01", "28", [("23:30", "05:30", "7")]),),
             time_zone="Europe/London") -> Tariff:  # fmt: skip
        tariff = Tariff.objects.create(user=user, name=name, time_zone=time_zone)
        for valid_from, default, bands in versions:
            version = TariffVersion.objects.create(
                tariff=tariff, valid_from=dt.date.fromisoformat(valid_from), default_p_per_kwh=Decimal(default)
            )
            for start, end, price, *days in bands:
                Band.objects.create(
                    version=version, start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end),
                    p_per_kwh=Decimal(price), days=days[0] if days else EVERY_DAY,
                )  # fmt: skip
        return tariff

    return make

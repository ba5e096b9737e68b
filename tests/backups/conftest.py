from decimal import Decimal

import pytest

from backups.services import backup_create
from settings_app.services import settings_update


@pytest.fixture
def account(owner, make_car, make_session):
    """alice with two cars, sessions with every field, a changed setting and a secret."""
    niro = make_car(owner, name="Niro", efficiency_mpkwh=Decimal("3.9"), notes="family car")
    zoe = make_car(
        owner, name="Zoe", make="Renault", model="Zoe", battery_kwh=Decimal("52"), active=False,
        recommended_full_charge_enabled=True, recommended_full_charge_frequency_value=14,
        recommended_full_charge_frequency_unit="days",
    )  # fmt: skip
    make_session(
        niro, "2025-01-01", 1000, "30.5", charge_type="DC", charge_power_kw=Decimal("50"),
        location_label="=Gridserve", charge_network="GRIDSERVE", duration_mins=35, cost_per_kwh=Decimal("0.79"),
        total_cost_gbp=Decimal("24.10"), soc_from=10, soc_to=80, ambient_temp_c=Decimal("-1.5"),
        notes='two\nlines, "quoted"',
    )  # fmt: skip
    make_session(niro, "2025-01-05", 1120, "28", location_label="Home", cost_per_kwh=Decimal("0.075"))
    make_session(zoe, "2025-02-01", 5000, "20")
    settings_update(user=owner, values={"petrol_mpg": Decimal("45"), "notification_url": "https://hooks.example/s"})
    return owner


@pytest.fixture
def backup_path(account, tmp_path):
    return backup_create(user=account, target=tmp_path / "alice.zip").path


def dump(user) -> dict:
    """Everything a user has, comparable across a wipe (no database ids)."""
    from cars_app.models import Car
    from sessions_app.models import ChargingSession
    from settings_app.models import Setting

    car_fields = [f.name for f in Car._meta.fields if f.name not in ("id", "user")]
    not_data = ("id", "user", "car", "created_at", "batch")  # "batch": the restore's own record of itself
    session_fields = [f.name for f in ChargingSession._meta.fields if f.name not in not_data]
    return {
        "cars": sorted(Car.objects.filter(user=user).values_list(*car_fields)),
        "sessions": sorted(
            ChargingSession.objects.filter(user=user).values_list("car__name", *session_fields), key=str
        ),
        "settings": sorted(Setting.objects.filter(user=user).values_list("key", "value", "encrypted")),
    }

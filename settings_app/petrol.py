"""What the Petrol Baseline settings mean: the petrol car's cost per mile, and the electricity price
at which an electric mile costs the same."""

from decimal import Decimal

from .services import UserSettings

LITRES_PER_UK_GALLON = Decimal("4.54609")


def petrol_pence_per_mile(settings: UserSettings) -> Decimal:
    return settings.petrol_price_p_per_litre * LITRES_PER_UK_GALLON / settings.petrol_mpg


def pence_per_kwh_equivalence(petrol_ppm: Decimal, efficiency_mpkwh: Decimal) -> Decimal:
    """The electricity price per kWh at which an EV mile costs the same as a petrol mile."""
    return petrol_ppm * efficiency_mpkwh

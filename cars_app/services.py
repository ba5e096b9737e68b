"""Writes to cars, under the owner's write lock like every other write of their data."""

from django.db.models import QuerySet

from plugtrack_site.account_lock import account_write_lock
from sessions_app.services import sessions_sequence_recompute

from .models import Car


def car_save(*, car: Car) -> Car:
    with account_write_lock(car.user_id):
        battery_before = Car.objects.filter(pk=car.pk).values_list("battery_kwh", flat=True).first()
        car.save()
        if battery_before is not None and battery_before != car.battery_kwh:
            # The sessions' "more kWh than the battery" flags, and the totals that leave them out, follow it.
            sessions_sequence_recompute(car_ids=[car.pk])
    return car


def cars_delete(*, cars: QuerySet[Car]) -> int:
    """Delete cars with their sessions (a superuser's selection may span several owners)."""
    with account_write_lock(*cars.values_list("user_id", flat=True)):
        return cars.delete()[1].get(Car._meta.label, 0)

"""Writes to cars, under the owner's write lock like every other write of their data. Saving a car,
whose battery its sessions' flags follow, is sessions_app.services.car_save."""

from django.db.models import QuerySet

from plugtrack_site.account_lock import account_write_lock

from .models import Car


def cars_delete(*, cars: QuerySet[Car]) -> int:
    """Delete cars with their sessions (a superuser's selection may span several owners)."""
    with account_write_lock(*cars.values_list("user_id", flat=True)):
        return cars.delete()[1].get(Car._meta.label, 0)

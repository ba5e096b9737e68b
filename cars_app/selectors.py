from django.contrib.auth.models import User

from plugtrack_site.errors import PlugTrackError

from .models import Car


class CarChoiceError(PlugTrackError):
    """No car, or more than one, to act on; the message lists the user's cars."""

    def __init__(self, message: str, *, choose_by_id: bool):
        super().__init__(message)
        self.choose_by_id = choose_by_id  # False when there is nothing to choose from


def car_choose(*, user: User, car_id: int | None) -> Car:
    """The user's car `car_id`, or their only car when no id is given."""
    cars = Car.objects.filter(user=user).order_by("pk")
    if car_id is not None:
        car = cars.filter(pk=car_id).first()
        if car is None:
            known = _car_list(cars) if cars.exists() else "They have no cars yet."
            raise CarChoiceError(f"{user} has no car with id {car_id}. {known}", choose_by_id=cars.exists())
        return car
    first_two = list(cars[:2])
    if len(first_two) == 1:
        return first_two[0]
    if not first_two:
        raise CarChoiceError(f"{user} has no cars yet: add one in the admin (Cars) first.", choose_by_id=False)
    raise CarChoiceError(f"{user} has several cars: choose one by its id. {_car_list(cars)}", choose_by_id=True)


def _car_list(cars) -> str:
    return "Cars: " + ", ".join(f'{car.pk} = "{car}" ({car.make} {car.model})' for car in cars) + "."

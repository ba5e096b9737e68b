"""`--car`, as every management command that acts on one car takes it."""

from django.contrib.auth.models import User
from django.core.management.base import CommandError

from plugtrack_site.command_args import EXIT_REFUSED

from .models import Car
from .selectors import CarChoiceError, car_choose


def add_car_argument(parser) -> None:
    parser.add_argument("--car", metavar="ID", type=int, help="Which car. May be left out when the user has one.")


def resolve_car(user: User, car_id: int | None) -> Car:
    """The user's car `car_id`, or their only car; otherwise a CommandError listing the choices."""
    try:
        return car_choose(user=user, car_id=car_id)
    except CarChoiceError as error:
        hint = " Give --car ID." if error.choose_by_id else ""
        raise CommandError(f"{error}{hint}", returncode=EXIT_REFUSED) from None

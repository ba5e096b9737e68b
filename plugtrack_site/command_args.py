"""Argument handling shared by every management command, so `--user`, `--car` and `--json`
mean the same everywhere."""

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.core.management.base import CommandError
from tqdm import tqdm

from cars_app.models import Car
from cars_app.selectors import CarChoiceError, car_choose

# Exit status of a command: 1 = it ran and failed (rows failed validation, a restore was undone);
# 2 = the input as a whole was refused (a missing file, wrong columns, an unknown user or car).
EXIT_FAILED = 1
EXIT_REFUSED = 2


def add_user_argument(parser) -> None:
    parser.add_argument("--user", metavar="USERNAME", help="Whose data. May be left out when there is one user.")


def add_car_argument(parser) -> None:
    parser.add_argument("--car", metavar="ID", type=int, help="Which car. May be left out when the user has one.")


def resolve_user(username: str | None) -> User:
    """The named user, or the only user; otherwise a CommandError that lists the choices."""
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f'No user "{username}". Users: {_usernames()}.', returncode=EXIT_REFUSED)
        return user
    users = list(User.objects.order_by("username")[:2])
    if len(users) == 1:
        return users[0]
    if not users:
        raise CommandError(
            "There are no users yet. Create one with `python manage.py createsuperuser`.", returncode=EXIT_REFUSED
        )
    raise CommandError(
        f"There are several users: give --user USERNAME. Users: {_usernames()}.", returncode=EXIT_REFUSED
    )


def resolve_car(user: User, car_id: int | None) -> Car:
    try:
        return car_choose(user=user, car_id=car_id)
    except CarChoiceError as error:
        hint = " Give --car ID." if error.choose_by_id else ""
        raise CommandError(f"{error}{hint}", returncode=EXIT_REFUSED) from None


def refused(error: Exception, *, json_output: bool, stdout) -> CommandError:
    """The CommandError for input refused as a whole; with --json, stdout gets it as JSON too."""
    if json_output:
        stdout.write(json.dumps({"ok": False, "error": str(error)}))
    return CommandError(str(error), returncode=EXIT_REFUSED)


@contextmanager
def info_logs_silenced(silenced: bool) -> Iterator[None]:
    """With --json, stdout carries the JSON alone: hold back PlugTrack's INFO log lines."""
    plugtrack_logger = logging.getLogger("plugtrack")
    previous = plugtrack_logger.level
    if silenced:
        plugtrack_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        plugtrack_logger.setLevel(previous)


# Below this many rows a run takes a few seconds at most: no progress bar.
PROGRESS_FROM_ROWS = 20_000


@contextmanager
def progress_bar(*, total: int, silenced: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress callback drawing rows done / total and the rate on stderr, for a long run in a
    terminal; None (silence) when stderr is not a terminal, with --json, or for a small file."""
    if silenced or total < PROGRESS_FROM_ROWS or not sys.stderr.isatty():
        yield None
        return
    with tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, leave=False) as bar:
        yield lambda done: bar.update(done - bar.n)


def _usernames(limit: int = 20) -> str:
    names = list(User.objects.order_by("username").values_list("username", flat=True)[: limit + 1])
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")

"""What every management command shares: the base class that turns a PlugTrackError into the
documented exit code and handles `--json`, and `--user`, so they mean the same everywhere.
(`--car` is cars_app's: `cars_app.command_args`.)"""

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from .errors import PlugTrackError

# Exit status of a command: 1 = it ran and failed (rows failed validation, a restore was undone);
# 2 = the input as a whole was refused (a missing file, wrong columns, an unknown user or car).
EXIT_FAILED = 1
EXIT_REFUSED = 2


def add_user_argument(parser) -> None:
    parser.add_argument("--user", metavar="USERNAME", help="Whose data. May be left out when there is one user.")


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


@contextmanager
def logs_kept_out_of_json(as_json: bool) -> Iterator[None]:
    """With --json, stdout carries the JSON alone: PlugTrack's INFO log lines are held back, and its
    warnings and errors (a failed backup, one made again) go to stderr."""
    plugtrack_logger = logging.getLogger("plugtrack")
    previous = plugtrack_logger.level
    on_stdout = []
    if as_json:
        plugtrack_logger.setLevel(logging.WARNING)
        on_stdout = [
            handler
            for handler in plugtrack_logger.handlers
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__)
        ]
    streams = [handler.setStream(sys.stderr) for handler in on_stdout]
    try:
        yield
    finally:
        plugtrack_logger.setLevel(previous)
        for handler, stream in zip(on_stdout, streams, strict=True):
            handler.setStream(stream)


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


class PlugTrackCommand(BaseCommand):
    """A command that makes one call into a service: subclasses implement `run(**options)`.

    With `json_output`, `--json` prints the result as JSON only (`print_json`): PlugTrack's INFO
    log lines are held back, its warnings and errors go to stderr. A PlugTrackError is the input
    refused as a whole: a one-line message and exit 2 (with --json, also {"ok": false, "error": ...}
    on stdout); one of `failed_errors` means the work ran and failed (a restore undone): exit 1.
    """

    json_output = False
    failed_errors: tuple[type[PlugTrackError], ...] = ()

    def add_arguments(self, parser) -> None:
        if self.json_output:
            parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")

    def handle(self, *args, **options):
        as_json = options.get("json", False)
        with logs_kept_out_of_json(as_json):
            try:
                self.run(**options)
            except self.failed_errors as error:
                raise CommandError(str(error), returncode=EXIT_FAILED) from None
            except PlugTrackError as error:
                if as_json:
                    self.print_json({"ok": False, "error": str(error)})
                raise CommandError(str(error), returncode=EXIT_REFUSED) from None

    def run(self, **options) -> None:
        raise NotImplementedError

    def print_json(self, data: dict) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))

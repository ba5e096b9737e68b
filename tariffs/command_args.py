"""What the tariffs' commands share: `--from`/`--to` as dates (a period of sessions, or of prices),
and reading a file given on the command line no further than its limit."""

import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError

from plugtrack_site.command_args import EXIT_REFUSED
from plugtrack_site.errors import PlugTrackError


def add_period_arguments(parser, what: str) -> None:
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help=f"{what} from this day on.")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help=f"{what} up to this day, included.")


def resolve_period(options: dict) -> tuple[dt.date | None, dt.date | None]:
    days = []
    for name, option in (("date_from", "--from"), ("date_to", "--to")):
        text = options.get(name)
        try:
            days.append(dt.date.fromisoformat(text) if text else None)
        except ValueError:
            raise CommandError(f"{option} {text[:20]}: give a date as YYYY-MM-DD.", returncode=EXIT_REFUSED) from None
    if days[0] and days[1] and days[1] < days[0]:
        raise CommandError(f"--to {days[1]} is before --from {days[0]}.", returncode=EXIT_REFUSED)
    return days[0], days[1]


def file_read_bounded(path: str, limit: int) -> bytes:
    """The file's bytes, refused once past `limit` without reading the rest."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise PlugTrackError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise PlugTrackError(f"{path} is a folder, not a file.") from None
    except PermissionError:
        raise PlugTrackError(f"Cannot read {path}: permission denied.") from None
    if len(data) > limit:
        raise PlugTrackError(f"{path} is larger than a tariff file may be ({limit // 1024 // 1024} MB): nothing was "
                             "imported.")  # fmt: skip
    return data

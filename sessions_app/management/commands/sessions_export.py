import datetime as dt

from django.core.management.base import CommandError

from cars_app.command_args import add_car_argument, resolve_car
from plugtrack_site.command_args import EXIT_REFUSED, PlugTrackCommand, add_user_argument, resolve_user
from sessions_app.imports.csv_io import charging_sessions_export
from sessions_app.imports.widgets import DateWidget


def iso_date(text: str) -> dt.date:
    try:
        return DateWidget().parse(text.strip())  # the CSV's own date rule
    except ValueError as error:
        raise CommandError(str(error), returncode=EXIT_REFUSED) from None


class Command(PlugTrackCommand):
    help = "Export one car's charging sessions to a CSV file that imports back unchanged. Dates are inclusive."

    def add_arguments(self, parser):
        parser.add_argument("--to", dest="target", required=True, metavar="PATH", help="The CSV file to write.")
        add_user_argument(parser)
        add_car_argument(parser)
        parser.add_argument("--date-from", metavar="YYYY-MM-DD", help="First day to include.")
        parser.add_argument("--date-to", metavar="YYYY-MM-DD", help="Last day to include.")
        parser.add_argument(
            "--with-times", action="store_true",
            help="Add the columns started_at and ended_at (ISO 8601 with their offset) after the 14.",
        )  # fmt: skip

    def run(self, **options):
        user = resolve_user(options["user"])
        car = resolve_car(user, options["car"])
        date_from = iso_date(options["date_from"]) if options["date_from"] else None
        date_to = iso_date(options["date_to"]) if options["date_to"] else None
        count = charging_sessions_export(
            user=user, car=car, target=options["target"], date_from=date_from, date_to=date_to,
            with_times=options["with_times"],
        )  # fmt: skip
        self.stdout.write(self.style.SUCCESS(f"Exported {count} session(s) of {car} to {options['target']}."))

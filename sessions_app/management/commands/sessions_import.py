from django.core.management.base import BaseCommand, CommandError

from plugtrack_site.command_args import (
    EXIT_FAILED,
    add_car_argument,
    add_user_argument,
    info_logs_silenced,
    progress_bar,
    refused,
    resolve_car,
    resolve_user,
)
from plugtrack_site.errors import PlugTrackError
from sessions_app.csv_io import charging_sessions_import, csv_rows_estimate


class Command(BaseCommand):
    help = (
        "Import charging sessions from a CSV file into one car. Nothing is written if any row is invalid "
        "(unless --allow-partial); rows already stored are skipped as duplicates. "
        "Exit status: 0 done, 1 rows with errors, 2 file or arguments refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="PATH", help="The CSV file.")
        add_user_argument(parser)
        add_car_argument(parser)
        parser.add_argument("--dry-run", action="store_true", help="Check everything, write nothing.")
        parser.add_argument("--allow-partial", action="store_true", help="Write the valid rows even if some fail.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON only.")

    def handle(self, *args, **options):
        user = resolve_user(options["user"])
        car = resolve_car(user, options["car"])
        total = csv_rows_estimate(options["source"])
        with info_logs_silenced(options["json"]), progress_bar(total=total, silenced=options["json"]) as progress:
            try:
                report = charging_sessions_import(
                    user=user,
                    car=car,
                    source=options["source"],
                    dry_run=options["dry_run"],
                    allow_partial=options["allow_partial"],
                    progress=progress,
                )
            except PlugTrackError as error:
                raise refused(error, json_output=options["json"], stdout=self.stdout) from None
        self.stdout.write(report.to_json() if options["json"] else report.to_cli_text())
        if not report.ok:
            raise CommandError(f"{report.error_count} row(s) failed validation.", returncode=EXIT_FAILED)

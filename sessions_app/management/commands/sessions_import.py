from django.core.management.base import CommandError

from cars_app.command_args import add_car_argument, resolve_car
from plugtrack_site.command_args import EXIT_FAILED, PlugTrackCommand, add_user_argument, progress_bar, resolve_user
from sessions_app.imports.choices import BLANK_ODOMETER_RULES, ImportChoices
from sessions_app.imports.csv_io import FORMATS, ImportOptions, charging_sessions_import, csv_rows_estimate
from sessions_app.imports.formats.shape import DATE_ORDERS, ENCODINGS
from sessions_app.imports.importer import ImportReport, RowIssue
from sessions_app.imports.mapping_profiles import mapping_from_argument


class Command(PlugTrackCommand):
    help = (
        "Import charging sessions from a CSV file into one car. Nothing is written if any row is invalid "
        "(unless --allow-partial); rows already stored are skipped as duplicates. "
        "Exit status: 0 done, 1 rows with errors, 2 file or arguments refused."
    )
    json_output = True

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="PATH", help="The CSV file.")
        add_user_argument(parser)
        add_car_argument(parser)
        parser.add_argument("--dry-run", action="store_true", help="Check everything, write nothing.")
        parser.add_argument("--allow-partial", action="store_true", help="Write the valid rows even if some fail.")
        parser.add_argument(
            "--format", dest="file_format", choices=FORMATS, default="plugtrack",
            help="plugtrack: PlugTrack's own 14 columns (the default); spreadsheet: your own file, its headings "
            "and shape (semicolons, decimal commas, day-first dates) detected; evcc: evcc's sessions CSV; teslafi: "
            "TeslaFi's data export (sessions rebuilt from its polls); auto: whichever the header says.",
        )  # fmt: skip
        parser.add_argument(
            "--mapping", metavar="PROFILE.json|NAME",
            help="Which of your file's columns is which: a mapping's JSON file, or the name of one you saved.",
        )  # fmt: skip
        parser.add_argument("--date-order", choices=sorted(DATE_ORDERS), help="When the dates could be either.")
        parser.add_argument("--encoding", choices=sorted(ENCODINGS), help="cp1252 for a file that is not UTF-8.")
        parser.add_argument("--timezone", help="Your local zone (e.g. Europe/London), for date-times with an offset.")
        parser.add_argument("--currency", help="The costs' currency: GBP, another code with --rate, or none.")
        parser.add_argument("--rate", help="Pounds per unit of --currency (e.g. 0.86 for EUR).")
        parser.add_argument(
            "--blank-odometer", choices=BLANK_ODOMETER_RULES, default="error",
            help="A row without an odometer: error (default), skip it, or take the previous session's (said in notes).",
        )  # fmt: skip
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        car = resolve_car(user, options["car"])
        # (TeslaFi's file has a line per poll, its report a row per session: no total to measure against)
        total = 0 if options["file_format"] == "teslafi" else csv_rows_estimate(options["source"])
        with progress_bar(total=total, silenced=options["json"]) as progress:
            report = charging_sessions_import(
                user=user, car=car, source=options["source"],
                options=ImportOptions(
                    dry_run=options["dry_run"],
                    allow_partial=options["allow_partial"],
                    progress=progress,
                    file_format=options["file_format"],
                    choices=ImportChoices(
                        date_order=options["date_order"],
                        encoding=options["encoding"],
                        time_zone=options["timezone"],
                        currency=options["currency"],
                        rate=options["rate"],
                        blank_odometer=options["blank_odometer"],
                        mapping=mapping_from_argument(user, options["mapping"]) if options["mapping"] else None,
                    ),
                ),
            )
        if options["json"]:
            self.print_json(report.to_dict())
        else:
            self.stdout.write(report_text(report))
        if not report.ok:
            raise CommandError(f"{report.error_count} row(s) failed validation.", returncode=EXIT_FAILED)


def report_text(report: ImportReport, shown_issues: int = 10) -> str:
    """The import's report as the summary table a person reads in a terminal."""
    car = f"{report.car} (id {report.car_id})" if report.car_id else report.car
    title = f"Import of {report.source} into {car}" + (" (dry run: nothing written)" if report.dry_run else "")
    lines = [title]
    if report.detected:
        detected = report.detected
        zone = f", local zone {detected['time_zone']}" if detected.get("time_zone") else ""
        lines.append(
            f"  read as {detected['format']}: {detected['encoding']}, {detected['delimiter']}-separated, decimal "
            f"{detected['decimal_mark']}, dates {detected['date_order']}{zone}, costs: {detected['money']}"
        )
        columns = ", ".join(f"{heading} → {column}" for column, heading in detected["columns"].items())
        lines.append(f"  mapping ({detected['mapping']}): {columns}")
        if detected["ignored_columns"]:
            lines.append(f"  columns left out: {', '.join(detected['ignored_columns'])}")
    for label, value in [
        ("rows read", report.rows_read),
        ("valid", report.ok_rows),
        ("would insert" if report.dry_run else "inserted", report.inserted),
        ("duplicates", report.skipped_duplicates),
        ("errors", report.error_count),
        ("warnings", report.warning_count),
    ]:
        lines.append(f"  {label:<13}{value:>8}")
    if report.groups:
        lines.append("Problems by kind:")
        lines += [_group_line(group) for group in report.to_dict()["groups"]]
    for heading, issues, total in [
        ("Errors", report.errors, report.error_count),
        ("Warnings", report.warnings, report.warning_count),
    ]:
        if issues:
            lines.append(f"{heading} (first {min(shown_issues, total)} of {total}):")
            lines += [_issue_line(issue) for issue in issues[:shown_issues]]
    if report.error_file:
        lines.append(f"All errors and warnings are listed in {report.error_file}")
    if report.batch_id:
        lines.append(
            f"Recorded as import {report.batch_id}: `manage.py import_undo {report.batch_id}` removes it again."
        )
    lines += report.notes
    return "\n".join(lines)


def _group_line(group: dict) -> str:
    """ "  103 errors   charge_delivered_kwh: more energy than 1.5 × the battery; rows 2, 3, 4 (first 3 of 103)" """
    severity = f"{group['severity']}{'' if group['count'] == 1 else 's'}"
    rows = ", ".join(str(example["row"]) for example in group["examples"])
    examples, count = len(group["examples"]), group["count"]
    shown = f" (first {examples} of {count:,})" if count > examples else ""
    return f"  {group['count']:>6,} {severity:<9}{group['field'] or 'whole row'}: {group['kind']}; rows {rows}{shown}"


def _issue_line(issue: RowIssue) -> str:
    where = f"row {issue.row}" + (f", {issue.field}" if issue.field else "")
    value = f' (value "{issue.value}")' if issue.value and issue.value not in issue.message else ""
    return f"  {where}: {issue.message}{value}"

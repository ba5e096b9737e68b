from cars_app.command_args import resolve_car
from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, progress_bar, resolve_user
from tariffs.command_args import add_period_arguments, resolve_period
from tariffs.costs import Selection
from tariffs.services import costs_recompute


class Command(PlugTrackCommand):
    help = (
        "Work an owner's sessions' costs out again by their tariffs. Without --apply, a preview: how many sessions "
        "change, the totals before and after, the largest differences, the recorded costs left alone; nothing is "
        "written. With --apply, one recorded change (`costs_undo ID` undoes it). A recorded cost is never changed. "
        "Exit status: 0 done, 2 refused."
    )
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        parser.add_argument("--car", metavar="ID", type=int, help="Only this car's sessions (default: every car).")
        add_period_arguments(parser, "Sessions")
        parser.add_argument("--apply", action="store_true", help="Write the new costs (default: a preview).")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        car = resolve_car(user, options["car"]) if options["car"] is not None else None
        date_from, date_to = resolve_period(options)
        selection = Selection(user=user, car_id=car.pk if car else None, date_from=date_from, date_to=date_to)
        total = selection.sessions().count()
        with progress_bar(total=total, silenced=options["json"]) as progress:
            report = costs_recompute(selection=selection, apply=options["apply"], progress=progress)
        if options["json"]:
            self.print_json({"ok": True, **report.to_dict()})
            return
        self.stdout.write(recompute_text(report))


def recompute_text(report) -> str:
    sources = report.by_source
    lines = [
        f"{'Applied' if report.applied else 'Preview (nothing written)'}: {report.sessions:,} session(s), "
        f"{report.changed:,} {'changed' if report.applied else 'would change'}.",
        f"  estimated from times {sources['times']:,}, from the date {sources['date']:,}, no tariff or price "
        f"{sources['none']:,}; recorded costs left alone {sources['recorded']:,} (£{report.recorded_gbp:,.2f}).",
        f"  Total cost (recorded, else estimated): £{report.total_before_gbp:,.2f} before, "
        f"£{report.total_after_gbp:,.2f} after; estimates £{report.estimated_before_gbp:,.2f} → "
        f"£{report.estimated_after_gbp:,.2f}.",
    ]
    if report.largest:
        lines.append("  Largest differences:")
        for row in report.largest:
            before = f"£{row['before']}" if row["before"] is not None else "none"
            after = f"£{row['after']}" if row["after"] is not None else "none"
            lines.append(f"    session {row['session_id']} ({row['date']}, {row['kwh']} kWh): {before} → {after}")
    if report.applied and report.recompute_id:
        lines.append(f"Recorded as recompute {report.recompute_id}: `manage.py costs_undo {report.recompute_id}` "
                     "undoes it.")  # fmt: skip
    elif not report.applied and report.changed:
        lines.append("Run again with --apply to write them.")
    return "\n".join(lines)

from django.core.management.base import CommandError

from backups.archive import backup_encrypted, backup_session_count
from backups.management.passphrase import passphrase_read
from backups.services import MODES, RestoreFailed, RestoreOptions, RestoreReport, backup_restore
from plugtrack_site.command_args import (
    EXIT_FAILED,
    EXIT_REFUSED,
    PlugTrackCommand,
    add_user_argument,
    progress_bar,
    resolve_user,
)


class Command(PlugTrackCommand):
    help = (
        "Restore a backup ZIP into a user's account. merge (default) adds and updates; replace first saves an "
        "automatic backup, then empties the account and restores. All or nothing. "
        "An encrypted backup's passphrase comes from PLUGTRACK_BACKUP_PASSPHRASE, or is asked. "
        "Exit status: 0 done, 1 the restore failed and was undone, 2 the backup, its passphrase or the arguments "
        "were refused."
    )
    json_output = True
    failed_errors = (RestoreFailed,)

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="PATH", help="The backup ZIP.")
        add_user_argument(parser)
        parser.add_argument("--mode", choices=MODES, default="merge")
        parser.add_argument("--dry-run", action="store_true", help="Check everything and count; write nothing.")
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive", help="Do not ask before a replace."
        )
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        if options["mode"] == "replace" and not options["dry_run"] and options["interactive"]:
            self._confirm_replace(user)
        encrypted = backup_encrypted(options["source"])
        passphrase = passphrase_read(purpose="This encrypted backup", confirm=False) if encrypted else None
        total = backup_session_count(options["source"], passphrase)
        with progress_bar(total=total, silenced=options["json"]) as progress:
            report = backup_restore(
                user=user, source=options["source"], mode=options["mode"],
                options=RestoreOptions(dry_run=options["dry_run"], progress=progress, passphrase=passphrase),
            )
        if options["json"]:
            self.print_json(report.to_dict())
        else:
            self.stdout.write(report_text(report))
        if not report.ok:
            raise CommandError("The restore was undone: nothing was changed.", returncode=EXIT_FAILED)

    def _confirm_replace(self, user) -> None:
        question = (
            f"This deletes all of {user}'s cars, charging sessions and settings and replaces them with the backup "
            "(an automatic backup of the current data is written first).\nType 'yes' to continue: "
        )
        try:
            answer = input(question)
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            raise CommandError("Restore cancelled; nothing was changed.", returncode=EXIT_REFUSED)


def report_text(report: RestoreReport) -> str:
    """The restore's report as a person reads it in a terminal."""
    title = f"{report.mode.capitalize()} restore of {report.source}"
    lines = [title + (" (dry run: nothing written)" if report.dry_run else "")]
    lines.append(
        f"  backup of {report.backup_username}, made {report.backup_created_at}, schema {report.schema_version}"
    )
    if report.deleted:
        verb = "would delete" if report.dry_run else "deleted"
        lines.append(f"  {verb} first: " + ", ".join(f"{count} {name}" for name, count in report.deleted.items()))
    lines.append(f"  {'':<10}{'inserted':>10}{'updated':>10}{'unchanged':>10}")
    for name, counts in (("cars", report.cars), ("settings", report.settings)):
        lines.append(f"  {name:<10}{counts.inserted:>10}{counts.updated:>10}{counts.unchanged:>10}")
    if report.sessions:
        sessions = report.sessions
        lines.append(f"  {'sessions':<10}{sessions.inserted:>10}{'–':>10}{sessions.skipped_duplicates:>10}")
        for label, issues, total in (("errors", sessions.errors, sessions.error_count),
                                     ("warnings", sessions.warnings, sessions.warning_count)):  # fmt: skip
            if issues:
                lines.append(f"  sessions.csv {label} (first {min(len(issues), 10)} of {total:,}):")
                lines += [f"    row {issue.row}, {issue.field or 'row'}: {issue.message}" for issue in issues[:10]]
    if report.setting_changes:
        lines.append(f"  settings that {'would change' if report.dry_run else 'changed'}:")
        lines += [f"    {change.text}" for change in report.setting_changes]
    if report.automatic_backup:
        lines.append(f"Your data before the restore was saved to {report.automatic_backup}")
    lines += [f"Warning: {warning}" for warning in report.warnings]
    lines += report.notes
    return "\n".join(lines)

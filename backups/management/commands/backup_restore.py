from django.core.management.base import BaseCommand, CommandError

from backups.archive import backup_session_count
from backups.services import MODES, RestoreFailed, backup_restore
from plugtrack_site.command_args import (
    EXIT_FAILED,
    EXIT_REFUSED,
    add_user_argument,
    info_logs_silenced,
    progress_bar,
    refused,
    resolve_user,
)
from plugtrack_site.errors import PlugTrackError


class Command(BaseCommand):
    help = (
        "Restore a backup ZIP into a user's account. merge (default) adds and updates; replace first saves an "
        "automatic backup, then empties the account and restores. All or nothing. "
        "Exit status: 0 done, 1 the restore failed and was undone, 2 the backup or the arguments were refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="PATH", help="The backup ZIP.")
        add_user_argument(parser)
        parser.add_argument("--mode", choices=MODES, default="merge")
        parser.add_argument("--dry-run", action="store_true", help="Check everything and count; write nothing.")
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive", help="Do not ask before a replace."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON only.")

    def handle(self, *args, **options):
        user = resolve_user(options["user"])
        if options["mode"] == "replace" and not options["dry_run"] and options["interactive"]:
            self._confirm_replace(user)
        with (
            info_logs_silenced(options["json"]),
            progress_bar(total=backup_session_count(options["source"]), silenced=options["json"]) as progress,
        ):
            try:
                report = backup_restore(
                    user=user,
                    source=options["source"],
                    mode=options["mode"],
                    dry_run=options["dry_run"],
                    progress=progress,
                )
            except RestoreFailed as error:
                raise CommandError(str(error), returncode=EXIT_FAILED) from None
            except PlugTrackError as error:
                raise refused(error, json_output=options["json"], stdout=self.stdout) from None
        self.stdout.write(report.to_json() if options["json"] else report.to_cli_text())
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

import json

from django.core.management.base import BaseCommand, CommandError

from backups.services import backup_create
from plugtrack_site.command_args import EXIT_REFUSED, add_user_argument, info_logs_silenced, resolve_user
from plugtrack_site.errors import PlugTrackError


class Command(BaseCommand):
    help = (
        "Write a backup ZIP of a user's cars, sessions and settings. PATH may be a folder: the file is then "
        "named plugtrack_backup_<username>_<UTC timestamp>.zip."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", dest="target", required=True, metavar="PATH", help="A .zip file or a folder.")
        add_user_argument(parser)
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")

    def handle(self, *args, **options):
        user = resolve_user(options["user"])
        with info_logs_silenced(options["json"]):
            try:
                backup = backup_create(user=user, target=options["target"])
            except PlugTrackError as error:
                raise CommandError(str(error), returncode=EXIT_REFUSED) from None
        counts = {"cars": backup.cars, "sessions": backup.sessions, "settings": backup.settings}
        if options["json"]:
            self.stdout.write(json.dumps({"ok": True, "path": backup.path, "bytes": backup.size_bytes, **counts}))
            return
        self.stdout.write(f"  {'cars':<10}{backup.cars:>8}\n  {'sessions':<10}{backup.sessions:>8}")
        self.stdout.write(f"  {'settings':<10}{backup.settings:>8}\n  {'bytes':<10}{backup.size_bytes:>8}")
        self.stdout.write(self.style.SUCCESS(f"Backup of {user} written to {backup.path}"))

from backups.services import backup_create
from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user


class Command(PlugTrackCommand):
    help = (
        "Write a backup ZIP of a user's cars, sessions and settings. PATH may be a folder: the file is then "
        "named plugtrack_backup_<username>_<UTC timestamp>.zip."
    )
    json_output = True

    def add_arguments(self, parser):
        parser.add_argument("--to", dest="target", required=True, metavar="PATH", help="A .zip file or a folder.")
        add_user_argument(parser)
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        backup = backup_create(user=user, target=options["target"])
        counts = {"cars": backup.cars, "sessions": backup.sessions, "settings": backup.settings}
        if options["json"]:
            self.print_json({"ok": True, "path": backup.path, "bytes": backup.size_bytes, **counts})
            return
        self.stdout.write(f"  {'cars':<10}{backup.cars:>8}\n  {'sessions':<10}{backup.sessions:>8}")
        self.stdout.write(f"  {'settings':<10}{backup.settings:>8}\n  {'bytes':<10}{backup.size_bytes:>8}")
        self.stdout.write(self.style.SUCCESS(f"Backup of {user} written to {backup.path}"))

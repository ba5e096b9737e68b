from backups.management.passphrase import PASSPHRASE_VARIABLE, passphrase_read
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
        parser.add_argument(
            "--encrypt", action="store_true",
            help=f"Encrypt it with a passphrase (AES-256; 7-Zip opens it): from {PASSPHRASE_VARIABLE}, or asked "
            "twice. Keep the passphrase somewhere else: without it the backup cannot be read.",
        )  # fmt: skip
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        passphrase = passphrase_read(purpose="An encrypted backup", confirm=True) if options["encrypt"] else None
        backup = backup_create(user=user, target=options["target"], passphrase=passphrase)
        counts = {"cars": backup.cars, "sessions": backup.sessions, "settings": backup.settings}
        if options["json"]:
            self.print_json(
                {"ok": True, "path": backup.path, "bytes": backup.size_bytes, "encrypted": backup.encrypted, **counts}
            )
            return
        self.stdout.write(f"  {'cars':<10}{backup.cars:>8}\n  {'sessions':<10}{backup.sessions:>8}")
        self.stdout.write(f"  {'settings':<10}{backup.settings:>8}\n  {'bytes':<10}{backup.size_bytes:>8}")
        encrypted = " (encrypted: keep its passphrase somewhere other than this machine)" if backup.encrypted else ""
        self.stdout.write(self.style.SUCCESS(f"Backup of {user} written to {backup.path}{encrypted}"))

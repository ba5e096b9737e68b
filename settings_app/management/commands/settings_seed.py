from plugtrack_site.command_args import PlugTrackCommand, resolve_user
from settings_app.services import settings_seed


class Command(PlugTrackCommand):
    help = "Create every missing setting with its default, for all users or one. Never overwrites a value."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--user", metavar="USERNAME", help="Seed only this user (default: every user).")

    def run(self, **options):
        users = [resolve_user(options["user"])] if options["user"] else None
        created = settings_seed(users=users)
        self.stdout.write(
            self.style.SUCCESS(f"Settings: {created} missing value(s) created with defaults; existing values kept.")
        )

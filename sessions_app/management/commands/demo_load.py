from plugtrack_site.command_args import PlugTrackCommand
from sessions_app.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_account_load


class Command(PlugTrackCommand):
    help = "Create the demo owner with a car and a realistic year of charging sessions. Safe to run again."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/", help="Admin URL to print.")

    def run(self, **options):
        car, created_sessions, user_created = demo_account_load()
        if created_sessions:
            self.stdout.write(f"Demo car {car}: {created_sessions} charging sessions loaded.")
        else:
            self.stdout.write(f"Demo car {car} already has its sessions; nothing added.")
        password = DEMO_PASSWORD if user_created else f"{DEMO_PASSWORD} (unless you changed it)"
        self.stdout.write(
            self.style.SUCCESS(f"Log in at {options['url']}  user: {DEMO_USERNAME}  password: {password}")
        )

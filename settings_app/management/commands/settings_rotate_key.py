from django.core.management.base import CommandError

from plugtrack_site.command_args import EXIT_FAILED, PlugTrackCommand
from settings_app.services import settings_rotate_key


class Command(PlugTrackCommand):
    help = (
        "Re-encrypt every secret setting under the newest key (the first of PLUGTRACK_ENCRYPTION_KEYS). "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys. "
        "Exit status: 0 done, 1 some secrets could not be read or some accounts were busy (listed; the others "
        "were re-encrypted), "
        "2 no usable key is configured."
    )

    def run(self, **options):
        report = settings_rotate_key()
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {report.reencrypted} secret setting(s) under the newest key.")
        )
        for username, key in report.unreadable:
            self.stderr.write(
                f"{username}: {key} cannot be read with any key in PLUGTRACK_ENCRYPTION_KEYS and was left as it was. "
                f"Add the key it was encrypted with (after the new one) and run this again, or enter the value "
                f"again on {username}'s settings page."
            )
        for username in report.busy:
            self.stderr.write(
                f"{username}: another operation was running on this account, so its secrets were left under the "
                "old key for now. Run this again later."
            )
        if report.unreadable or report.busy:
            raise CommandError(
                f"{len(report.unreadable)} secret setting(s) could not be read and {len(report.busy)} account(s) "
                "were busy; see above.",
                returncode=EXIT_FAILED,
            )

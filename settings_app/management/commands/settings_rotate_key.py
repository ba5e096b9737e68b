from django.core.management.base import BaseCommand, CommandError

from plugtrack_site.errors import PlugTrackError
from settings_app.services import settings_rotate_key


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret setting under the newest key (the first of PLUGTRACK_ENCRYPTION_KEYS). "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args, **options):
        try:
            count = settings_rotate_key()
        except PlugTrackError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} secret setting(s) under the newest key."))

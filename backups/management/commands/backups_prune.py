from django.utils import timezone

from backups.schedules import backups_prune
from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user


class Command(PlugTrackCommand):
    help = (
        "Delete the scheduled backups each owner's retention policy no longer keeps (the newest of each of the last "
        "7 days, 4 weeks and 12 months by default). Manual backups and those made before a replace are never pruned."
    )
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        parser.add_argument("--dry-run", action="store_true", help="Show what would be deleted; delete nothing.")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"]) if options["user"] else None
        doomed = backups_prune(user=user, dry_run=options["dry_run"])
        if options["json"]:
            listed = [{"id": b.pk, "user": b.user.username, "created_at": b.created_at.isoformat(), "path": b.path}
                      for b in doomed]  # fmt: skip
            self.print_json({"ok": True, "dry_run": options["dry_run"], "deleted": listed})
            return
        verb = "Would delete" if options["dry_run"] else "Deleted"
        for backup in doomed:
            self.stdout.write(
                f"{verb} {backup.user} {timezone.localtime(backup.created_at):%Y-%m-%d %H:%M} {backup.path}"
            )
        self.stdout.write(f"{verb} {len(doomed)} scheduled backup(s).")

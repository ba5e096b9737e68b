from django.core.management.base import CommandError

from backups.schedules import backups_run_due
from plugtrack_site.command_args import EXIT_FAILED, PlugTrackCommand


class Command(PlugTrackCommand):
    help = (
        "Make every owner's scheduled backup that is due (for cron or a systemd timer; the worker does the same "
        "each hour). A second run in the same period makes nothing. Exit status: 0 done (or nothing due), "
        "1 a backup or its verification failed."
    )
    json_output = True

    def run(self, **options):
        runs = backups_run_due()
        if options["json"]:
            self.print_json({"ok": not any(run.error for run in runs), "runs": [run.to_dict() for run in runs]})
        else:
            for run in runs:
                done = f"backup {run.backup_id}, verified, {run.pruned} pruned" if not run.error else run.error
                self.stdout.write(f"{run.user} ({run.slot}): {done}")
            if not runs:
                self.stdout.write("No scheduled backup is due.")
        if failed := [run for run in runs if run.error]:
            raise CommandError(f"{len(failed)} scheduled backup(s) failed.", returncode=EXIT_FAILED)

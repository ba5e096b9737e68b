from django.core.management.base import CommandError

from backups.schedules import backups_run_due_and_copy
from plugtrack_site.command_args import EXIT_FAILED, PlugTrackCommand


class Command(PlugTrackCommand):
    help = (
        "Make every owner's scheduled backup that is due, verify and prune, then copy off the machine every backup "
        "not copied yet (for cron or a systemd timer; the worker does the same each hour). A second run in the same "
        "period makes no backup; a backup whose run was killed midway is made again 2 hours after it started. Exit "
        "status: 0 done (or nothing due), 1 a backup, its verification or an off-site copy failed."
    )
    json_output = True

    def run(self, **options):
        runs, offsite = backups_run_due_and_copy()
        offsite_errors = [error for result in offsite.values() for error in result.errors]
        if options["json"]:
            copies = {user: {"copied": result.copied, "errors": result.errors} for user, result in offsite.items()}
            ok = not any(run.error for run in runs) and not offsite_errors
            self.print_json({"ok": ok, "runs": [run.to_dict() for run in runs], "offsite": copies})
        else:
            for run in runs:
                done = f"backup {run.backup_id}, verified, {run.pruned} pruned" if not run.error else run.error
                if run.redone and not run.error:
                    done += " (made again: the run that started it was interrupted)"
                self.stdout.write(f"{run.user} ({run.slot}): {done}")
            if not runs:
                self.stdout.write("No scheduled backup is due.")
            for user, result in offsite.items():
                self.stdout.write(f"{user}: {result.copied} copied off-site" + "".join(f"; {e}" for e in result.errors))
        if failed := [run for run in runs if run.error]:
            raise CommandError(f"{len(failed)} scheduled backup(s) failed.", returncode=EXIT_FAILED)
        if offsite_errors:
            raise CommandError(f"{len(offsite_errors)} off-site copy(ies) failed.", returncode=EXIT_FAILED)

from django.contrib.auth.models import User

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from sessions_app.imports.batches import import_batches
from sessions_app.models import ImportBatch


class Command(PlugTrackCommand):
    help = "List the imports (command line, admin, merge restores), newest first, with what each inserted."
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        super().add_arguments(parser)

    def run(self, **options):
        # Everyone's by default (an administrator's view); --user for one owner's.
        user = resolve_user(options["user"]) if options["user"] or User.objects.count() == 1 else None
        batches = list(import_batches(user=user))
        if options["json"]:
            self.print_json({"ok": True, "batches": [_as_dict(batch) for batch in batches]})
            return
        if not batches:
            self.stdout.write("No imports yet.")
            return
        self.stdout.write(f"{'id':>5}  {'imported':16}  {'user':10}  {'car':16}  {'new':>6}  {'status':22}  file")
        for batch in batches:
            status = f"undone {batch.undone_at:%Y-%m-%d %H:%M}" if batch.undone_at else "imported"
            restored = batch.kind == ImportBatch.Kind.RESTORE
            car = str(batch.car) if batch.car else "(the backup's cars)" if restored else "(several cars)"
            self.stdout.write(
                f"{batch.pk:>5}  {batch.created_at:%Y-%m-%d %H:%M}  {batch.user.username[:10]:10}  {car[:16]:16}  "
                f"{batch.inserted:>6}  {status:22}  {batch.source_name}"
            )


def _as_dict(batch) -> dict:
    return {
        "id": batch.pk, "user": batch.user.username, "car_id": batch.car_id, "kind": batch.kind,
        "created_at": batch.created_at.isoformat(), "source_name": batch.source_name, "sha256": batch.sha256,
        "format": batch.format, "mapping": batch.mapping, "rows_read": batch.rows_read, "inserted": batch.inserted,
        "skipped_duplicates": batch.skipped_duplicates, "errors": batch.errors,
        "undone_at": batch.undone_at and batch.undone_at.isoformat(), "removed": batch.removed,
        "kept_edited": batch.kept_edited,
    }  # fmt: skip

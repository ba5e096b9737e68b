from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from sessions_app.imports.batches import BatchNotFound, import_batch_undo
from sessions_app.models import ImportBatch


class Command(PlugTrackCommand):
    help = (
        "Undo an import: remove exactly the sessions it inserted (those edited since are kept unless "
        "--include-edited), recompute the car, record it. Exit status: 0 done, 2 no such import or undone already."
    )
    json_output = True

    def add_arguments(self, parser):
        parser.add_argument("batch_id", type=int, metavar="BATCH_ID", help="The import's id (see import_batches).")
        add_user_argument(parser)
        parser.add_argument("--dry-run", action="store_true", help="Say what would be removed, change nothing.")
        parser.add_argument(
            "--include-edited", action="store_true", help="Also remove the sessions edited since the import."
        )
        super().add_arguments(parser)

    def run(self, **options):
        owner = ImportBatch.objects.filter(pk=options["batch_id"]).values_list("user__username", flat=True).first()
        if owner is None and not options["user"]:
            raise BatchNotFound(f"There is no import {options['batch_id']}. `manage.py import_batches` lists them.")
        user = resolve_user(options["user"] or owner)  # the import's owner unless told otherwise
        report = import_batch_undo(
            user=user, batch_id=options["batch_id"], dry_run=options["dry_run"],
            include_edited=options["include_edited"],
        )  # fmt: skip
        if options["json"]:
            self.print_json(report.to_dict())
        else:
            self.stdout.write(report.text)

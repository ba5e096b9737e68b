from pathlib import Path

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from tariffs.command_args import file_read_bounded
from tariffs.file_format import MAX_FILE_BYTES
from tariffs.services import tariffs_import


class Command(PlugTrackCommand):
    help = (
        "Import an owner's tariffs and assignments from PlugTrack's tariff file (JSON, docs/tariffs.md). Each tariff "
        "replaces the owner's of the same name, the assignments replace theirs; nothing is written unless the whole "
        "file is right. Then `costs_recompute` works the sessions' costs out. Exit status: 0 done, 2 refused."
    )
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        parser.add_argument("--from", dest="source", metavar="FILE.json", required=True, help="The tariff file.")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        data = file_read_bounded(options["source"], MAX_FILE_BYTES)
        done = tariffs_import(user=user, data=data, source=Path(options["source"]).name)
        if options["json"]:
            self.print_json({"ok": True, **vars(done)})
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Imported {done.tariffs_added} new tariff(s), replaced {done.tariffs_replaced}, stored "
                f"{done.prices:,} half-hourly price(s) and {done.assignments} assignment(s). "
                "`manage.py costs_recompute` works the sessions' costs out with them."
            ))  # fmt: skip

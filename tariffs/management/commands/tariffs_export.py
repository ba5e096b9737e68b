import json
from pathlib import Path

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from plugtrack_site.files import file_written_whole
from tariffs.selectors import tariffs_export


class Command(PlugTrackCommand):
    help = (
        "Write an owner's tariffs (versions, bands, half-hourly prices) and assignments as PlugTrack's tariff file "
        "(JSON, docs/tariffs.md), which `tariffs_import` reads back unchanged. Exit status: 0 done, 2 refused."
    )

    def add_arguments(self, parser):
        add_user_argument(parser)
        parser.add_argument("--to", metavar="FILE.json", help="Where to write it (default: the screen).")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        text = json.dumps(tariffs_export(user=user), indent=1, ensure_ascii=False) + "\n"
        if not options["to"]:
            self.stdout.write(text, ending="")
            return
        with file_written_whole(Path(options["to"])) as handle:
            handle.write(text)
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['to']}."))

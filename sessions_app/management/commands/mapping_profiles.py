import json
from pathlib import Path

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from plugtrack_site.files import file_written_whole
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.mapping_profiles import mapping_profile_export, mapping_profile_import, mapping_profiles


class Command(PlugTrackCommand):
    help = (
        "An owner's saved column mappings (offered again for a file with the same header): list them, export "
        "one as JSON, or import one from JSON. Exit status: 0 done, 2 refused."
    )
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--export", metavar="NAME", help="Write the mapping NAME as JSON (to --to, or the screen).")
        action.add_argument("--import", dest="import_from", metavar="FILE.json", help="Save a mapping's JSON file.")
        parser.add_argument("--to", metavar="FILE.json", help="Where --export writes.")
        parser.add_argument("--name", help="The name to save an imported mapping under (default: its own).")
        super().add_arguments(parser)

    def run(self, **options):
        if options["to"] and not options["export"] or options["name"] and not options["import_from"]:
            raise CsvFileError("--to goes with --export, and --name with --import: given alone it would do nothing.")
        user = resolve_user(options["user"])
        if options["import_from"]:
            profile = mapping_profile_import(user=user, path=options["import_from"], name=options["name"])
            self._said({"ok": True, "saved": profile.name}, f'Saved the mapping "{profile.name}".', options)
        elif options["export"]:
            profile = mapping_profiles(user).filter(name=options["export"]).first()
            if profile is None:
                raise CsvFileError(f'{user} has no saved mapping "{options["export"]}".')
            text = json.dumps(mapping_profile_export(profile), indent=2, ensure_ascii=False) + "\n"
            if options["to"]:
                with file_written_whole(Path(options["to"])) as handle:
                    handle.write(text)
                self._said({"ok": True, "written": options["to"]}, f"Wrote {options['to']}.", options)
            else:
                self.stdout.write(text, ending="")
        else:
            profiles = [mapping_profile_export(profile) for profile in mapping_profiles(user)]
            lines = [f"{profile['name']}: {', '.join(profile['header'][:8])}" for profile in profiles]
            self._said({"ok": True, "mappings": profiles}, "\n".join(lines) or "No saved mappings.", options)

    def _said(self, data: dict, text: str, options: dict) -> None:
        if options["json"]:
            self.print_json(data)
        else:
            self.stdout.write(text)

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from plugtrack_site.errors import PlugTrackError
from tariffs.models import CostRecompute
from tariffs.services import costs_recompute_undo


class Command(PlugTrackCommand):
    help = (
        "Undo an applied costs recompute: its sessions' estimated costs go back to what they were. Only an "
        "owner's latest recompute not undone yet. Exit status: 0 done, 2 refused."
    )
    json_output = True

    def add_arguments(self, parser):
        parser.add_argument(
            "recompute_id", type=int, metavar="ID", help="The recompute's id (costs_recompute says it)."
        )
        add_user_argument(parser)
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        recompute = CostRecompute.objects.filter(pk=options["recompute_id"], user=user).first()
        if recompute is None:
            raise PlugTrackError(f"{user} has no costs recompute {options['recompute_id']}.")
        written = costs_recompute_undo(user=user, recompute=recompute)
        if options["json"]:
            self.print_json({"ok": True, "sessions": written})
        else:
            self.stdout.write(self.style.SUCCESS(f"Undone: {written:,} session(s) have their previous costs again."))

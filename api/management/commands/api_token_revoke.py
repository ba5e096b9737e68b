from django.utils import timezone

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user

from ...services import ApiTokenError, api_token_revoke


class Command(PlugTrackCommand):
    help = "Revoke an owner's API token, by its name or its id (pt_<id>_…): it is refused from then on. Exit 2: none."
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--name", help="The token's name.")
        which.add_argument("--id", dest="id_part", metavar="ID", help="The token's id, as in pt_<id>_….")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        if options["name"] is not None and not options["name"].strip():
            raise ApiTokenError("Give the token's name (or its --id).")
        token = api_token_revoke(user=user, name=options["name"], id_part=options["id_part"])
        if options["json"]:
            revoked = token.revoked_at.isoformat()
            self.print_json({"ok": True, "id": token.prefix, "name": token.name, "revoked_at": revoked})
            return
        self.stdout.write(self.style.SUCCESS(
            f"Revoked “{token.name}” ({token.public_part}…) of {user.username}, "
            f"{timezone.localtime(token.revoked_at):%d %b %Y %H:%M}: it is refused from now on."
        ))  # fmt: skip

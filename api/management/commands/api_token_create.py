from django.utils import timezone

from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user

from ...services import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS, SCOPES, ApiTokenError, api_token_create


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ApiTokenError(f"--cars takes car ids separated by commas, e.g. 1,2; not “{text}”.") from None


class Command(PlugTrackCommand):
    help = (
        "Make an API token for an owner and print it, once: PlugTrack keeps only its hash. Exit status: 0 made, 2 "
        "refused (a name taken, an unknown scope or car)."
    )
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        parser.add_argument("--name", required=True, help="What will use it, e.g. “Home Assistant”.")
        parser.add_argument("--scopes", required=True, help=f"Comma-separated, of: {', '.join(SCOPES)}.")
        parser.add_argument("--cars", default="", metavar="ID,ID", help="The cars it may use (default: all).")
        parser.add_argument(
            "--expires-days", type=int, default=DEFAULT_EXPIRY_DAYS,
            help=f"Days until it expires, 1 to {MAX_EXPIRY_DAYS} (default {DEFAULT_EXPIRY_DAYS}).",
        )  # fmt: skip
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        new = api_token_create(user=user, name=options["name"], scopes=scopes, car_ids=_ids(options["cars"]),
                               expires_days=options["expires_days"])  # fmt: skip
        token = new.token
        if options["json"]:
            self.print_json({
                "ok": True, "id": token.prefix, "name": token.name, "user": user.username, "token": new.secret,
                "scopes": token.scopes, "cars": sorted(token.cars.values_list("pk", flat=True)),
                "expires_at": token.expires_at.isoformat(),
            })  # fmt: skip
            return
        self.stdout.write(self.style.SUCCESS(
            f"Token “{token.name}” of {user.username} ({', '.join(token.scopes)}), expires "
            f"{timezone.localtime(token.expires_at):%d %b %Y}:"
        ))  # fmt: skip
        self.stdout.write(new.secret)
        self.stdout.write("Keep it now: PlugTrack keeps only its hash and cannot show it again.")

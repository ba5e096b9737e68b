from plugtrack_site.command_args import PlugTrackCommand, add_user_argument, resolve_user
from plugtrack_site.errors import PlugTrackError
from tariffs.command_args import add_period_arguments, resolve_period
from tariffs.models import Tariff
from tariffs.octopus import PricesFetchFailed, tariff_prices_fetch


class Command(PlugTrackCommand):
    help = (
        "Fetch a tariff's half-hourly prices from Octopus Energy's public API (no account key needed), each half "
        "hour stored once: running it again adds nothing twice. By default from the last price stored (or today) "
        "to tomorrow. The product and region are kept on the tariff for the daily fetch. "
        "Exit status: 0 done, 1 stopped half way (what came before is kept), 2 refused."
    )
    json_output = True
    failed_errors = (PricesFetchFailed,)

    def add_arguments(self, parser):
        add_user_argument(parser)
        parser.add_argument("--tariff", metavar="NAME", required=True, help="The tariff (created if it is new).")
        parser.add_argument("--product", metavar="CODE", help="Octopus's product code, e.g. AGILE-24-10-01.")
        parser.add_argument("--region", metavar="A..P", help="The letter of your area, as in E-1R-AGILE-24-10-01-C.")
        add_period_arguments(parser, "Prices")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        date_from, date_to = resolve_period(options)
        name = options["tariff"].strip()
        if not name or len(name) > 80:
            raise PlugTrackError("--tariff: give the tariff's name (at most 80 characters).")
        tariff, created = Tariff.objects.get_or_create(user=user, name=name)
        if created and not options["json"]:
            self.stdout.write(f"Created the tariff “{name}” (prices only: add versions for the hours without one).")
        report = tariff_prices_fetch(
            tariff=tariff, product=options["product"] or "", region=options["region"] or "", date_from=date_from,
            date_to=date_to,
        )  # fmt: skip
        if options["json"]:
            self.print_json({"ok": True, "pages": report.pages, "received": report.received, "stored": report.stored,
                             "skipped": report.skipped})  # fmt: skip
        else:
            self.stdout.write(self.style.SUCCESS(report.text))

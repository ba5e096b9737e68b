from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import CommandError

from cars_app.command_args import add_car_argument, resolve_car
from plugtrack_site.command_args import EXIT_FAILED, EXIT_REFUSED, PlugTrackCommand, add_user_argument, resolve_user
from plugtrack_site.files import file_written_whole
from statements.compute import StatementError, StatementRequest, month_parse, statement_compute
from statements.models import Scheme
from statements.render import PdfUnavailableError, statement_csv, statement_pdf
from statements.services import statement_content, statement_finalise


class Command(PlugTrackCommand):
    help = (
        "A car's reimbursement statement for a month: the business miles, every session, the kWh at home and in "
        "public and the claim by the scheme (the car's profile's, or --scheme). Without --finalise, a draft that "
        "is not kept; with it, stored with its SHA-256 (a new version only when the figures changed). "
        "Exit status: 0 done, 1 the PDF could not be made, 2 refused."
    )
    json_output = True

    def add_arguments(self, parser):
        add_user_argument(parser)
        add_car_argument(parser)
        parser.add_argument("--month", required=True, metavar="YYYY-MM", help="The month, e.g. 2026-10.")
        parser.add_argument("--scheme", choices=Scheme.values, help="The scheme (default: the car's profile's).")
        parser.add_argument("--business-miles", metavar="N", help="The month's business miles, as entered.")
        parser.add_argument("--csv", metavar="FILE", type=Path, help="Write the statement's lines as CSV here.")
        parser.add_argument("--pdf", metavar="FILE", type=Path, help="Write the statement as PDF here.")
        parser.add_argument("--finalise", action="store_true", help="Keep it as a finalised statement.")
        super().add_arguments(parser)

    def run(self, **options):
        user = resolve_user(options["user"])
        car = resolve_car(user, options["car"])
        request = StatementRequest(
            user=user, car=car, month=month_parse(options["month"]), scheme=options["scheme"],
            business_miles=_miles(options["business_miles"]),
        )  # fmt: skip
        for path in (options["csv"], options["pdf"]):
            if path is not None and not path.parent.is_dir():
                raise StatementError(f"No folder {path.parent} to write {path.name} in.")
        statement = None
        if options["finalise"]:
            finalised = statement_finalise(request=request)
            statement = finalised.statement
            content = statement_content(statement)
        else:
            content = statement_compute(request)
        if options["csv"]:
            _write(options["csv"], bytes(statement.csv) if statement else statement_csv(content))
        if options["pdf"]:
            try:
                pdf = bytes(statement.pdf) if statement and statement.pdf else statement_pdf(content)
            except PdfUnavailableError as error:
                raise CommandError(str(error), returncode=EXIT_FAILED) from None
            _write(options["pdf"], pdf)
        if options["json"]:
            extra = {"statement_id": statement.pk, "content_sha256": statement.content_sha256} if statement else {}
            self.print_json({"ok": True, **extra, "statement": content})
            return
        self.stdout.write(statement_text(content, statement))


def _miles(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        miles = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise CommandError(f"--business-miles: “{text[:20]}” is not a number.", returncode=EXIT_REFUSED) from None
    if not miles.is_finite() or miles < 0 or miles > 1_000_000:
        raise CommandError("--business-miles must be between 0 and 1,000,000.", returncode=EXIT_REFUSED)
    return miles


def _write(path: Path, data: bytes) -> None:
    with file_written_whole(path, binary=True) as out:
        out.write(data)


def statement_text(content: dict, statement) -> str:
    symbol = {"GBP": "£", "EUR": "€"}.get(content["currency"], "")
    lines = [
        f"{content['car']['name']}, {content['month']}: {content['scheme_name']}"
        + (f", for {content['employer']}" if content["employer"] else ""),
        f"  Claim: {symbol}{content['claim']}   (actual cost of the charging £{content['actual_cost']['gbp']})",
        f"  Business miles {content['business_miles']['miles']} ({content['business_miles']['source']}); "
        f"month's miles {content['month_miles']}; kWh {content['kwh']['home']} home, {content['kwh']['public']} "
        f"public; {len(content['sessions'])} session(s).",
    ]
    for line in content["claim_lines"]:
        approx = "≈ " if line["estimate"] else ""
        lines.append(f"    {line['what']}: {approx}{line['quantity']} {line['unit']} × {line['rate'] or '-'} = "
                     f"{symbol}{line['amount']}")  # fmt: skip
    lines += [f"  Warning: {warning}" for warning in content["warnings"]]
    lines += [f"  Note: {note}" for note in content["notes"]]
    if statement is not None:
        lines.append(f"Finalised as statement {statement.pk}, version {statement.version} "
                     f"(SHA-256 {statement.content_sha256}).")  # fmt: skip
    else:
        lines.append("A draft: run again with --finalise to keep it.")
    return "\n".join(lines)

"""A statement's files, each made from its content alone (so a finalised statement renders again
byte for byte): the CSV of its lines, the HTML page and the PDF (WeasyPrint, from the same template
as the admin's page)."""

import csv
import datetime as dt
import io
from decimal import Decimal

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from plugtrack_site.dates import date_text, moment_text
from plugtrack_site.errors import PlugTrackError

from .models import Statement

SYMBOL = {"GBP": "£", "EUR": "€"}
CSV_COLUMNS = ["kind", "date", "time", "where", "location", "kwh", "miles", "cost_gbp", "cost_source", "business",
               "description", "quantity", "unit", "rate", "amount", "currency"]  # fmt: skip
# WeasyPrint's own libraries (Pango and HarfBuzz), by their Debian package names.
WEASYPRINT_DEBIAN = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"


class PdfUnavailableError(PlugTrackError):
    """WeasyPrint or the libraries it needs are missing: the CSV and the page still work."""


def statement_csv(content: dict) -> bytes:
    """One row per claim line, per session, and the total, in the statement's order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    blank = dict.fromkeys(CSV_COLUMNS, "")
    rows = []
    for line in content["claim_lines"]:
        rows.append(blank | {"kind": "claim", "description": line["what"], "quantity": line["quantity"],
                             "unit": line["unit"], "rate": line["rate"], "amount": line["amount"],
                             "currency": content["currency"]})  # fmt: skip
    rows.append(blank | {"kind": "total", "description": "claim", "amount": content["claim"],
                         "currency": content["currency"]})  # fmt: skip
    for session in content["sessions"]:
        rows.append(blank | {
            "kind": "session", "date": session["date"], "time": session["time"], "where": session["where"],
            "location": _cell(session["location"]), "kwh": session["kwh"], "miles": session["miles"],
            "cost_gbp": session["cost"], "cost_source": session["cost_source"],
            "business": "yes" if session["business"] else "",
        })  # fmt: skip
    for row in rows:
        writer.writerow([row[column] for column in CSV_COLUMNS])
    return out.getvalue().encode()


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# The sessions' lines: (heading, width, right-aligned); the cost's source in a word or two.
LEDGER = [("Date        Time", 17, False), ("Where", 6, False), ("Location", 30, False), ("kWh", 9, True),
          ("Miles", 6, True), ("Cost", 10, True), ("Source", 10, False)]  # fmt: skip
SOURCE_SHORT = {"recorded": "recorded", "estimated from times": "from times", "estimated from the date": "from date"}


def ledger_lines(content: dict) -> tuple[str, list[str]]:
    """The sessions as lines of fixed-width columns, and their heading."""

    def line(cells) -> str:
        columns = zip(cells, LEDGER, strict=True)
        parts = [cell.rjust(width) if right else cell.ljust(width) for cell, (_, width, right) in columns]
        return "  ".join(parts).rstrip()

    lines = []
    for session in content["sessions"]:
        location = session["location"] + (" (business)" if session["business"] else "")
        if len(location) > 30:
            location = location[:29] + "…"
        cost = f"{'≈ ' if session['estimated'] else ''}£{session['cost']}" if session["cost"] else "none"
        lines.append(line([
            f"{_day(session['date'])} {session['time']}", session["where"], location, session["kwh"],
            str(session["miles"]), cost, SOURCE_SHORT.get(session["cost_source"], ""),
        ]))  # fmt: skip
    return line([heading for heading, _, _ in LEDGER]), lines


def _day(iso: str) -> str:
    """A date of the content (ISO, as data keeps it) as every page writes it: 7 Dec 2026."""
    return date_text(dt.date.fromisoformat(iso))


def _finalised_details(content: dict) -> dict:
    """Which version, when and by what, as a person reads them ("7 Dec 2026 21:57", "the monthly run")."""
    finalised = content.get("finalised")
    if not finalised:
        return {}
    at = moment_text(dt.datetime.fromisoformat(finalised["at"]))
    return {"version": finalised["version"], "at": at, "by": Statement.MadeBy(finalised["by"]).label}


def statement_context(content: dict) -> dict:
    symbol = SYMBOL.get(content["currency"], content["currency"] + " ")
    ledger_header, ledger = ledger_lines(content)
    return {
        "ledger_header": ledger_header,
        "ledger": ledger,
        "s": content,
        "details": _finalised_details(content),
        "month_text": f"{dt.date.fromisoformat(content['period']['from']):%B %Y}",
        "period_text": f"{_day(content['period']['from'])} to {_day(content['period']['to'])}",
        "claim_lines": [line | {"rate_from": _day(line["rate_from"]) if line["rate_from"] else ""}
                        for line in content["claim_lines"]],  # fmt: skip
        "symbol": symbol,
        "claim_text": f"{symbol}{Decimal(content['claim']):,.2f}",
        "actual_text": f"£{Decimal(content['actual_cost']['gbp']):,.2f}",
    }


def statement_html(content: dict) -> bytes:
    """The statement as a whole HTML document, its style inside (for the file and the PDF)."""
    with open(finders.find("statements/statement.css"), encoding="utf-8") as css:
        style = css.read()
    return render_to_string("statements/statement.html", statement_context(content) | {"style": style}).encode()


def statement_pdf(content: dict) -> bytes:
    """The PDF of the statement's HTML (A4, page x of y, the sessions' header repeated on each page)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as error:  # OSError: Pango or HarfBuzz missing
        raise PdfUnavailableError(
            f"The PDF needs WeasyPrint and its libraries ({type(error).__name__}: {str(error)[:120]}). Install "
            f"them with `pip install weasyprint` and `apt-get install {WEASYPRINT_DEBIAN}`; the CSV and the page "
            "work without them."
        ) from None
    return HTML(string=statement_html(content).decode()).write_pdf()

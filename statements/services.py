"""Statements made and kept: `statement_finalise` stores a statement's content and files with their
SHA-256, as a new version only when the month's figures have changed since the newest one."""

import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from plugtrack_site.events import STATEMENT_FINALISED, event_on_commit

from .compute import StatementRequest, canonical_json, statement_compute
from .delivery import statement_deliveries_record
from .models import Statement, month_last_day
from .render import PdfUnavailableError, statement_csv, statement_html, statement_pdf

logger = logging.getLogger("plugtrack.statements")


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True)
class Finalised:
    statement: Statement
    created: bool  # False: the newest version already had these figures
    pdf_missing: str = ""  # why there is no PDF (WeasyPrint missing), if there is none


def statement_finalise(*, request: StatementRequest, made_by: str = Statement.MadeBy.COMMAND) -> Finalised:
    """Finalise the car's statement for the month: the newest version when its figures are unchanged,
    else the next version, stored whole (content, CSV, HTML, PDF, each with its SHA-256). A month
    that is not over yet is refused."""
    from .compute import StatementError

    if month_last_day(request.month) >= timezone.localdate():
        raise StatementError(f"{request.month:%B %Y} is not over yet: a statement is finalised once its month is.")
    content = statement_compute(request)
    figures_sha = sha256(canonical_json(content))
    with transaction.atomic():
        versions = Statement.objects.select_for_update().filter(
            user=request.user, car=request.car, month=request.month, scheme=content["scheme"]
        )
        newest = versions.order_by("-version").first()
        if newest and newest.figures_sha256 == figures_sha:
            return Finalised(newest, created=False)
        version = newest.version + 1 if newest else 1
        now = timezone.now().replace(microsecond=0)
        content["finalised"] = {"version": version, "at": timezone.localtime(now).isoformat(), "by": made_by}
        text = canonical_json(content)
        csv_bytes, html_bytes = statement_csv(content), statement_html(content)
        pdf_missing = ""
        try:
            pdf_bytes = statement_pdf(content)
        except PdfUnavailableError as error:
            pdf_bytes, pdf_missing = None, str(error)
        statement = Statement.objects.create(
            user=request.user, car=request.car, car_name=content["car"]["name"], month=request.month,
            scheme=content["scheme"], version=version, finalised_at=now, made_by=made_by,
            claim=Decimal(content["claim"]), currency=content["currency"], content=text, content_sha256=sha256(text),
            figures_sha256=figures_sha, csv=csv_bytes, csv_sha256=sha256(csv_bytes), html=html_bytes,
            html_sha256=sha256(html_bytes), pdf=pdf_bytes, pdf_sha256=sha256(pdf_bytes) if pdf_bytes else "",
        )  # fmt: skip
        statement_deliveries_record(statement=statement)
        event_on_commit(user=request.user, kind=STATEMENT_FINALISED, data=statement_event_data(statement))
    logger.info("statement_finalised id=%s car=%s month=%s scheme=%s version=%s claim=%s", statement.pk,
                request.car.pk, request.month, content["scheme"], version, content["claim"])  # fmt: skip
    return Finalised(statement, created=True, pdf_missing=pdf_missing)


def statement_event_data(statement: Statement) -> dict:
    """The statement as its event tells it: which car, month, scheme and version, the claim, the files'
    fingerprints (so a receiver can check a copy), and who made it."""
    return {
        "statement": {
            "id": statement.pk, "car": {"id": statement.car_id, "name": statement.car_name},
            "month": f"{statement.month:%Y-%m}", "scheme": statement.scheme, "version": statement.version,
            "claim": f"{statement.claim:.2f}", "currency": statement.currency, "made_by": statement.made_by,
            "finalised_at": statement.finalised_at.isoformat(),
            "sha256": {"content": statement.content_sha256, "csv": statement.csv_sha256,
                       "html": statement.html_sha256, "pdf": statement.pdf_sha256 or None},
        }
    }  # fmt: skip


def statement_content(statement: Statement) -> dict:
    """A finalised statement's content, checked against its SHA-256."""
    if sha256(statement.content) != statement.content_sha256:
        from .compute import StatementError

        raise StatementError(f"{statement}'s content does not match its SHA-256: it has been altered.")
    return json.loads(statement.content)

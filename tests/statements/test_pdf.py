"""The PDF: made from the same template as the page, A4, page x of y, the totals first, the sessions'
header on every page; and where WeasyPrint cannot run, a message saying what to install."""

import datetime as dt
import shutil
import subprocess
from decimal import Decimal

import pytest

from statements.compute import statement_compute
from statements.render import PdfUnavailableError, statement_pdf

pytestmark = pytest.mark.django_db
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) is not installed")


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


@needs_poppler
def test_the_pdf_says_the_car_the_period_the_rule_and_the_totals_first(may, tmp_path):
    pdf = statement_pdf(statement_compute(may(business_miles=Decimal(812))))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    assert "Company Niro" in text and "1 May 2026 to 31 May 2026" in text and "Company Niro, May 2026" in text
    assert text.index("Claim: £73.08") < text.index("Every session")
    assert "shared between home and public charging by the month's kWh" in text
    assert "page 1 of 1" in text
    info = subprocess.run(["pdfinfo", str(tmp_path / "statement.pdf")], capture_output=True, text=True).stdout
    assert "x 841.89 pts (A4)" in info


@needs_poppler
def test_a_long_month_repeats_the_header_on_every_page(owner, make_car, make_session, tmp_path):
    from statements.compute import StatementRequest

    car = make_car(owner, name="Busy")
    for day in range(1, 31):
        for hour in range(4):
            make_session(car, dt.date(2026, 6, day), 1_000 + day * 100 + hour * 20, "5", location_label="Home")
    content = statement_compute(StatementRequest(user=owner, car=car, month=dt.date(2026, 6, 1), scheme="uk-aer"))
    text = pdf_text(statement_pdf(content), tmp_path)
    pages = text.split("\f")
    pages = [page for page in pages if page.strip()]
    assert len(pages) >= 3
    assert f"page {len(pages)} of {len(pages)}" in pages[-1]
    assert all("Date        Time" in page and "Source" in page for page in pages[1:])  # the header, repeated


def test_without_weasyprint_the_pdf_says_what_to_install(may, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_weasyprint(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    with pytest.raises(PdfUnavailableError, match="apt-get install libpango-1.0-0"):
        statement_pdf(statement_compute(may()))


def test_the_pdf_renders_again_byte_for_byte(may):
    content = statement_compute(may(business_miles=Decimal(812)))
    assert statement_pdf(content) == statement_pdf(content)

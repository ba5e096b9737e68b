"""The statement page in a real browser, under the Content-Security-Policy: made, downloaded as PDF
(its first page rendered to PNG with pdftoppm, beside the page's screenshot), finalised."""

import shutil
import subprocess
from pathlib import Path

import pytest

from statements.models import Rate, Statement
from statements.seed import RATES_2026, rates_add

from .conftest import SCREENSHOTS, expect, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_statement_is_shown_downloaded_as_pdf_and_finalised(page, owner, make_car, make_session):
    rates_add(Rate, RATES_2026)  # (a transactional test starts from the tables another one may have emptied)
    car = make_car(owner, name="Company Niro")
    make_session(car, "2026-04-28", 20_000, "10", location_label="Home")
    for day, odometer, kwh, label, network, cost in [
        ("03", 20_200, "60", "Home", "", "4.20"), ("10", 20_400, "40", "Tesco Extra Leeds", "Pod Point", "18.00"),
        ("17", 20_600, "60", "Home", "", "4.20"), ("24", 20_700, "20", "Gridserve Rugby", "Gridserve", "15.80"),
        ("31", 20_812, "60", "Home", "", "4.20"),
    ]:  # fmt: skip
        make_session(car, f"2026-05-{day}", odometer, kwh, location_label=label, charge_network=network,
                     total_cost_gbp=cost)  # fmt: skip
    page.goto(f"{page.base}/admin/statements/statement/")
    page.click("text=Make a statement")
    page.select_option("#id_car", str(car.pk))
    page.fill("#id_month", "2026-05")
    page.select_option("#id_scheme", "uk-aer")
    page.fill("#id_business_miles", "812")
    page.click("input[value='Show the statement']")
    expect(page.locator(".statement .claim")).to_have_text("Claim: £73.08")
    screenshot(page, "statement")
    with page.expect_download() as download_info:
        page.click("text=Download PDF")
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "statement.pdf").write_bytes(pdf)
        first_page = ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"]
        subprocess.run([*first_page, str(SCREENSHOTS / "statement.pdf"), str(SCREENSHOTS / "statement-pdf-page-1")],
                       check=True)  # fmt: skip
        assert (SCREENSHOTS / "statement-pdf-page-1.png").stat().st_size > 10_000
    page.click("input[value='Finalise and keep it']")
    expect(page.locator(".messagelist")).to_contain_text("Finalised")
    statement = Statement.objects.get()
    expect(page.locator("body")).to_contain_text(statement.content_sha256)
    screenshot(page, "statement-finalised")


def test_every_statements_page_works_under_the_content_security_policy(page, owner, make_car):
    rates_add(Rate, RATES_2026)
    make_car(owner, name="Company Niro")
    for path in [
        "/admin/statements/statement/",
        "/admin/statements/statement/make/",
        "/admin/statements/reimbursementprofile/",
        "/admin/statements/reimbursementprofile/add/",
        "/admin/statements/rate/",
        "/admin/statements/businessmark/",
        "/admin/statements/businessmark/add/",
    ]:
        response = page.goto(page.base + path)
        assert response.status == 200, path
        expect(page.locator("#content")).to_be_visible()
    screenshot(page, "statements-business-mark")

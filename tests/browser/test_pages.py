"""Every page an owner can reach (tests/owner_pages.py), in a laptop's 1366 × 768 window, for an account
with one of everything: each page loads whole (no 404 on the way, the favicon included), fits the window's
width without a horizontal scroll bar, and is kept as a screenshot named after it
(test-artifacts/screenshots/page-<name>.png; docs/architecture.md, "Screenshots", lists them)."""

import urllib.request

import pytest

from ..owner_pages import FORM_PAGES, owner_account_seed, owner_pages
from .conftest import ROOT, expect, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Wider than the window: the page itself, or a box that scrolls sideways within it (Django puts a list's
# table in one, so a list too wide for the window hides its last columns rather than scroll the page).
TOO_WIDE = """() => {
    const wide = [];
    if (document.documentElement.scrollWidth > window.innerWidth) wide.push("the page");
    for (const box of document.querySelectorAll("body *")) {
        const overflow = getComputedStyle(box).overflowX;
        if ((overflow === "auto" || overflow === "scroll") && box.scrollWidth > box.clientWidth + 1)
            wide.push((box.id || box.className || box.tagName) + ` (${box.scrollWidth} of ${box.clientWidth} px)`);
    }
    return wide;
}"""


def test_every_owner_page_fits_a_laptop_and_is_kept_as_a_screenshot(page, owner, tmp_path):
    seed = owner_account_seed(owner, tmp_path / "files")
    page.set_viewport_size({"width": 1366, "height": 768})
    missing = []
    page.on("response", lambda response: response.status == 404 and missing.append(response.url))
    too_wide = []

    def visit(name: str, url: str | None = None) -> None:
        if url is not None:
            response = page.goto(page.base + url)
            assert response.ok, (name, url, response.status)
        expect(page.locator("#content")).to_be_visible()
        screenshot(page, f"page-{name}")
        if wide := page.evaluate(TOO_WIDE):
            too_wide.append(f"{name}: {', '.join(wide)}")

    for owner_page in owner_pages(seed):
        visit(owner_page.name, owner_page.url)
    # The import's columns page: an owner's own file uploaded on the import page.
    page.goto(f"{page.base}/admin/sessions_app/chargingsession/import/")
    page.select_option("#id_car", label="Zoe")
    page.set_input_files("#id_import_file", str(seed.evcc_file))
    page.click("input[value='Check the file']")
    page.wait_for_url("**/columns/")
    visit(FORM_PAGES["sessions_app_chargingsession_import_columns"])
    # And the login page, logged out.
    page.context.clear_cookies()
    visit("login", "/admin/login/")

    assert not too_wide, f"wider than 1366 px: {too_wide}"
    assert not missing, missing


def test_the_favicon_is_served_where_browsers_look_for_it(live_server):
    with urllib.request.urlopen(f"{live_server.url}/favicon.ico") as response:
        assert response.status == 200 and response.read() == (ROOT / "plugtrack_site/root/favicon.ico").read_bytes()

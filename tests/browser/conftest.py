"""End-to-end tests in a real browser: the machine's Chromium driven by Playwright, against a
live server on 127.0.0.1. Skipped, with the reason, where there is no Chromium or Playwright.
Screenshots of each main page go to test-artifacts/screenshots/ (git-ignored). The pictures in docs/
are taken by the same tests, and written there only when PLUGTRACK_DOCS_SCREENSHOTS=1 is set:

    PLUGTRACK_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser -k readme
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    expect = sync_playwright = None


# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make for
# their setup are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    # Skipped here rather than at import so that `pytest tests/browser` also skips cleanly.
    if not CHROMIUM or sync_playwright is None:
        pytest.skip(
            "browser tests need Chromium (apt-get install chromium) and Playwright"
            " (pip install -r requirements-dev.txt)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, owner, settings, tmp_path):
    """A logged-in page for alice, the owner; the test fails if the page hits a CSP violation or
    a JavaScript error."""
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    # Anything the Content-Security-Policy blocks (an inline script or style) is reported on the
    # console; a page that needs it would be broken in production, so it fails the test.
    blocked = []
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
    page.on("pageerror", lambda error: blocked.append(str(error)))
    page.base = live_server.url
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    yield page
    context.close()
    assert not blocked, blocked


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def docs_picture(page, name: str) -> None:
    """The page as the docs show it: what fits the window (the first screen a reader sees), written to
    docs/<name>.png only when PLUGTRACK_DOCS_SCREENSHOTS=1, so that an ordinary test run leaves the
    repository as it was; to test-artifacts/screenshots/docs-<name>.png always."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"docs-{name}.png"))
    if os.environ.get("PLUGTRACK_DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"{name}.png"))


@pytest.fixture
def worker(page, settings, tmp_path):
    """A real background worker (`manage.py db_worker`, its own process) taking this test's jobs
    from the database, as in production: job pages then show their progress live."""
    from ..processes import manage

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    process = manage(
        "db_worker", "--no-startup-delay", "--interval", "0.2", data_dir=settings.PLUGTRACK_DATA_DIR,
        PLUGTRACK_TASK_BACKEND="django_tasks_db.DatabaseBackend",
    )  # fmt: skip
    yield process
    process.terminate()
    process.wait(timeout=30)

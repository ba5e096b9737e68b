"""The API's interactive docs (Swagger UI, from PlugTrack's own static files) in a real browser, under the
Content-Security-Policy: the page fixture fails the test on any violation or script error."""

import json

import pytest

from api.services import api_token_create

from .conftest import expect, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_api_docs_list_every_route_and_try_one_out_with_a_token(page, owner, make_car):
    make_car(owner, name="Niro")
    secret = api_token_create(user=owner, name="docs", scopes=["sessions:read"]).secret
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{page.base}/api/v1/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/sessions.csv")).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/api/v1/sessions", "/api/v1/cars", "/api/v1/analytics/summary", "/api/v1/backups"} <= set(paths)
    assert all(url.startswith(page.base) for url in requested), [url for url in requested if page.base not in url]

    page.click("button.authorize")
    page.fill(".auth-container input", secret)
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")
    page.click("#operations-cars-api_routes_cars_list .opblock-summary")
    page.click("#operations-cars-api_routes_cars_list button.try-out__btn")
    page.click("#operations-cars-api_routes_cars_list button.execute")
    body = page.locator("#operations-cars-api_routes_cars_list .responses-wrapper .live-responses-table pre").first
    expect(body).to_contain_text("Niro")
    assert json.loads(body.inner_text())[0]["name"] == "Niro"
    screenshot(page, "api-docs")

"""The tariffs' pages in a real browser, in a laptop's 1366×768 window: a tariff file imported, a
version's bands refused when they overlap, then the costs recompute run by the background worker (its
preview, then applied from its job's page), shown on the car's analytics page, and undone."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sessions_app.models import ChargingSession
from tariffs.costs import Selection
from tariffs.models import Assignment, Band, Tariff, TariffVersion
from tariffs.services import costs_recompute

from ..tariffs.test_file_format import EXAMPLE
from .conftest import expect, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LONDON = ZoneInfo("Europe/London")


def test_a_tariff_is_imported_its_bands_checked_and_the_costs_recomputed_then_undone(
    page, worker, owner, make_car, make_session, tmp_path
):
    page.set_viewport_size({"width": 1366, "height": 768})
    niro = make_car(owner, name="Niro")
    make_session(niro, "2026-03-28", 1000, "49", location_label="Home", started_at=dt.datetime(2026, 3, 28, 22, 30,
                 tzinfo=LONDON), ended_at=dt.datetime(2026, 3, 29, 6, 30, tzinfo=LONDON))  # fmt: skip
    make_session(niro, "2026-04-10", 1150, "10", location_label="Home")  # a date only
    source = tmp_path / "tariffs.json"
    source.write_text(json.dumps(EXAMPLE))

    page.goto(f"{page.base}/admin/tariffs/tariff/")
    page.click("text=Import tariffs")
    page.set_input_files("#id_tariffs_file", str(source))
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Imported 1 new tariff(s)")
    screenshot(page, "tariffs-list")

    page.click("text=Intelligent Octopus Go")
    page.click(".field-bands_link a")
    expect(page.locator("h1")).to_contain_text("Change tariff version")
    new_band = "#bands-group tbody tr:not(.has_original):not(.empty-form)"
    page.locator(f"{new_band} input[type=checkbox][value='4']").first.check()  # Friday
    page.locator(f"{new_band} input[name$='-start']").first.fill("22:00")
    page.locator(f"{new_band} input[name$='-end']").first.fill("00:30")
    page.locator(f"{new_band} input[name$='-p_per_kwh']").first.fill("9")
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist").first).to_contain_text("23:30–05:30 overlaps Friday 22:00–00:30")
    screenshot(page, "tariffs-band-overlap")
    assert Band.objects.count() == 1  # nothing saved

    page.goto(f"{page.base}/admin/tariffs/costrecompute/recompute/")
    page.click("input[type=submit]")
    expect(page.locator("#pt-apply")).to_be_visible(timeout=60_000)  # the worker's preview
    expect(page.locator("#pt-totals")).to_contain_text("£0.00 before, £")
    expect(page.locator("#pt-changed")).to_have_text("2")
    screenshot(page, "tariffs-recompute-preview")
    assert not ChargingSession.objects.filter(estimated_cost_gbp__isnull=False).exists()
    page.click("#pt-apply")
    expect(page.locator(".messagelist")).to_contain_text("Applied: 2 of 2 session(s) changed.", timeout=60_000)
    assert ChargingSession.objects.filter(estimated_cost_gbp__isnull=False).count() == 2

    page.goto(f"{page.base}/admin/cars_app/car/{niro.pk}/analytics/")
    expect(page.locator(".pt-figures")).to_contain_text("% estimated")
    expect(page.locator("h2", has_text="Cost per month by band")).to_be_visible()
    screenshot(page, "tariffs-analytics")

    page.goto(f"{page.base}/admin/tariffs/costrecompute/")
    page.click("a.pt-undo")
    page.click("input[value='Undo it']")
    expect(page.locator(".messagelist")).to_contain_text("Undone: 2 session(s)")
    assert not ChargingSession.objects.filter(estimated_cost_gbp__isnull=False).exists()


def test_every_tariffs_page_works_under_the_content_security_policy(page, owner, make_car, make_session):
    niro = make_car(owner, name="Niro")
    make_session(niro, "2026-03-28", 1000, "49", location_label="Home", started_at=dt.datetime(2026, 3, 28, 22, 30,
                 tzinfo=LONDON), ended_at=dt.datetime(2026, 3, 29, 6, 30, tzinfo=LONDON))  # fmt: skip
    go = Tariff.objects.create(user=owner, name="Intelligent Octopus Go")
    version = TariffVersion.objects.create(tariff=go, valid_from=dt.date(2026, 1, 1), default_p_per_kwh=Decimal(28))
    Band.objects.create(version=version, start=dt.time(23, 30), end=dt.time(5, 30), p_per_kwh=Decimal(7))
    assignment = Assignment.objects.create(user=owner, tariff=go, valid_from=dt.date(2026, 1, 1), where="home")
    applied = costs_recompute(selection=Selection(user=owner), apply=True)
    for path in [
        "/admin/tariffs/tariff/",
        "/admin/tariffs/tariff/add/",
        f"/admin/tariffs/tariff/{go.pk}/change/",
        f"/admin/tariffs/tariffversion/{version.pk}/change/",
        "/admin/tariffs/tariff/import/",
        "/admin/tariffs/assignment/",
        "/admin/tariffs/assignment/add/",
        f"/admin/tariffs/assignment/{assignment.pk}/change/",
        "/admin/tariffs/costrecompute/",
        f"/admin/tariffs/costrecompute/{applied.recompute_id}/change/",
        "/admin/tariffs/costrecompute/recompute/",
        f"/admin/tariffs/costrecompute/{applied.recompute_id}/undo/",
    ]:
        response = page.goto(page.base + path)
        assert response.status == 200, path
        expect(page.locator("#content")).to_be_visible()
    page.goto(f"{page.base}/admin/sessions_app/chargingsession/")
    expect(page.locator("#result_list")).to_contain_text("≈ £6.37")

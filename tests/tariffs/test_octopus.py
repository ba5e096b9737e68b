"""Half-hourly prices from Octopus, against a local server in Octopus's shape (never the internet):
paging, a 500 half way (what came before is kept, and said), a second run adding nothing."""

import datetime as dt
import json
import re
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from tariffs.models import HalfHourPrice, Tariff
from tariffs.octopus import PricesFetchFailed, tariff_prices_fetch, tariff_prices_fetch_due
from tariffs.tasks import next_daily_run

from .octopus_server import OctopusServer, agile_prices

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 2, 28, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def octopus(settings):
    """Three days of half hours (144 prices) around 1 March 2026 (GMT: local days are UTC days)."""
    with OctopusServer(agile_prices(START, 144)) as server:
        settings.PLUGTRACK_OCTOPUS_API_URL = f"{server.url}/v1"
        yield server


@pytest.fixture
def agile(owner):
    return Tariff.objects.create(user=owner, name="Agile", octopus_product="AGILE-24-10-01", octopus_region="C")


@contextmanager
def time_machine(now: dt.datetime):
    with mock.patch("django.utils.timezone.now", return_value=now):
        yield


def fetch(tariff, **kwargs):
    return tariff_prices_fetch(
        tariff=tariff, date_from=dt.date(2026, 2, 28), date_to=dt.date(2026, 3, 2), page_size=50, **kwargs
    )


def test_pages_are_followed_and_a_second_run_adds_nothing(octopus, agile):
    report = fetch(agile)
    assert (report.pages, report.received, report.stored) == (3, 144, 144)  # 50 a page
    assert (
        "/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/"
        in (octopus.requests[0])
    )
    assert "period_from=2026-02-28T00%3A00%3A00Z" in octopus.requests[0]
    first = HalfHourPrice.objects.filter(tariff=agile).order_by("start").first()
    assert (first.start, first.end, first.p_per_kwh) == (START, START + dt.timedelta(minutes=30), Decimal("8.4"))

    again = fetch(agile)
    assert (again.received, again.stored) == (144, 0)
    assert HalfHourPrice.objects.filter(tariff=agile).count() == 144
    assert "0 new or changed, 144 stored already" in Tariff.objects.get(pk=agile.pk).fetch_note


def test_a_server_error_half_way_keeps_what_came_before_and_says_so(octopus, agile):
    octopus.fail_pages = {2}
    with pytest.raises(PricesFetchFailed, match=r"Stopped at page 2: the server answered HTTP 500\. Stored what came "
                                                r"before it \(50 new or changed of 50\)"):  # fmt: skip
        fetch(agile)
    assert HalfHourPrice.objects.filter(tariff=agile).count() == 50
    assert Tariff.objects.get(pk=agile.pk).fetch_note.startswith("Stopped at page 2")

    octopus.fail_pages = set()
    report = fetch(agile)
    assert (report.received, report.stored) == (144, 94)
    assert HalfHourPrice.objects.filter(tariff=agile).count() == 144


def test_a_corrected_price_is_updated_once(octopus, agile):
    fetch(agile)
    octopus.results[0] = octopus.results[0] | {"value_inc_vat": 99.5}
    assert fetch(agile).stored == 1
    assert HalfHourPrice.objects.filter(tariff=agile, p_per_kwh=Decimal("99.5")).count() == 1


def test_a_page_may_not_send_plugtrack_elsewhere_nor_be_something_else(octopus, agile):
    octopus.url = "http://169.254.169.254"  # the next page's address the server gives
    with pytest.raises(PricesFetchFailed, match="a next page on another server"):
        fetch(agile)
    assert HalfHourPrice.objects.count() == 50


def test_the_command(octopus, owner):
    out = StringIO()
    call_command("tariff_prices_fetch", "--tariff", "Agile", "--product", "AGILE-24-10-01", "--region", "C",
                 "--from", "2026-02-28", "--to", "2026-03-02", "--json", stdout=out)  # fmt: skip
    assert json.loads(out.getvalue()) == {"ok": True, "pages": 1, "received": 144, "stored": 144, "skipped": 0}
    tariff = Tariff.objects.get(name="Agile")
    assert (tariff.octopus_product, tariff.octopus_region) == ("AGILE-24-10-01", "C")

    octopus.fail_pages = {1}
    with pytest.raises(CommandError, match="Stopped at page 1") as failed:
        call_command("tariff_prices_fetch", "--tariff", "Agile", "--from", "2026-02-28", stdout=StringIO())
    assert failed.value.returncode == 1
    with pytest.raises(CommandError, match="not an Octopus region") as refused:
        call_command("tariff_prices_fetch", "--tariff", "Agile", "--region", "Z", stdout=StringIO())
    assert refused.value.returncode == 2


def test_the_daily_fetch_takes_the_tariffs_set_to_fetch(octopus, agile, owner, settings):
    Tariff.objects.create(user=owner, name="Go")  # not set to fetch
    agile.fetch_daily = True
    agile.save()
    with time_machine(dt.datetime(2026, 3, 1, 17, tzinfo=dt.UTC)):
        said = tariff_prices_fetch_due()
    assert len(said) == 1 and said[0].startswith(
        "Agile: 96 price(s) in 1 page(s) from 2026-03-01 00:00Z to 2026-03-03 00:00Z"
    )
    assert HalfHourPrice.objects.filter(tariff=agile).count() == 96  # today and tomorrow


def test_the_daily_run_is_at_half_past_four_local_time():
    winter = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    assert next_daily_run(winter) == dt.datetime(2026, 1, 10, 16, 30, tzinfo=dt.UTC)
    summer_evening = dt.datetime(2026, 7, 10, 16, tzinfo=dt.UTC)  # 17:00 BST: tomorrow's
    assert next_daily_run(summer_evening) == dt.datetime(2026, 7, 11, 15, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "body, said",
    [
        (b"<html>Bad gateway</html>", "a page that is not JSON"),
        (b'{"count": 1, "results": {}}', "a page not in Octopus's shape (no results)"),
        (b'{"results": [{"valid_from": "yesterday", "value_inc_vat": 5}]}', "a price not in Octopus's shape"),
        (b'{"results": [{"valid_from": "2026-03-01T00:00:00Z", "valid_to": "2026-03-01T00:30:00Z", '
         b'"value_inc_vat": 1e9}]}', "beyond what PlugTrack keeps"),
    ],
)  # fmt: skip
def test_a_page_not_in_octopus_shape_stops_the_fetch_keeping_what_came_before(octopus, agile, body, said):
    octopus.junk_pages = {2: body}
    with pytest.raises(PricesFetchFailed, match=re.escape(said)):
        fetch(agile)
    assert HalfHourPrice.objects.filter(tariff=agile).count() == 50

"""Half-hourly prices from Octopus Energy's public API (no account key is needed for prices).

    GET {PLUGTRACK_OCTOPUS_API_URL}/products/{product}/electricity-tariffs/E-1R-{product}-{region}/
        standard-unit-rates/?period_from=…&period_to=…&page_size=1500

answers {"count", "next", "previous", "results": [{"value_exc_vat", "value_inc_vat", "valid_from",
"valid_to", "payment_method"}]}, newest first, a page at a time: `next` is the following page's
address (followed only on the same server). Each page is stored as it arrives, each half hour once
(a price stored again at the same start is updated only if it changed), so a failure half way
keeps what came before it and says so; running again fetches the rest and adds nothing twice."""

import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone

from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError

from .file_format import PRODUCT_CODE, REGIONS
from .models import MAX_P_PER_KWH, MIN_HALF_HOUR_P_PER_KWH, HalfHourPrice, Tariff
from .services import half_hour_prices_store

logger = logging.getLogger("plugtrack.tariffs")

PAGE_SIZE = 1500
MAX_PAGES = 100  # 150,000 prices: years of half hours; a server that never stops paging is cut off
MAX_PAGE_BYTES = 4 * 1024 * 1024  # a page of 1,500 prices is about 250 KB
MAX_DAYS = 800
TIMEOUT_SECONDS = 20
SKIPPED_PAYMENT = "NON_DIRECT_DEBIT"  # a product priced both ways: the direct-debit price is kept


class PricesFetchRefused(PlugTrackError):
    """The fetch was not started: a product, region or period that cannot be asked for."""


class PricesFetchFailed(PlugTrackError):
    """The fetch stopped half way (a server error, a timeout, a page not in Octopus's shape): what
    came before was stored, and the message says how much."""


@dataclass
class FetchReport:
    tariff: str
    period_from: dt.datetime
    period_to: dt.datetime
    pages: int = 0
    received: int = 0
    stored: int = 0  # new or changed
    skipped: int = 0  # a price without an end, longer than a day, or the non-direct-debit twin

    @property
    def text(self) -> str:
        return (f"{self.tariff}: {self.received:,} price(s) in {self.pages} page(s) from "
                f"{self.period_from:%Y-%m-%d %H:%M}Z to {self.period_to:%Y-%m-%d %H:%M}Z; {self.stored:,} new or "
                f"changed, {self.received - self.stored - self.skipped:,} stored already"
                + (f", {self.skipped:,} left out (no end, or not a direct-debit price)" if self.skipped else "")
                + ".")  # fmt: skip


def rates_url(product: str, region: str) -> str:
    base = settings.PLUGTRACK_OCTOPUS_API_URL.rstrip("/")
    code = f"E-1R-{product}-{region}"
    product, code = urllib.parse.quote(product), urllib.parse.quote(code)
    return f"{base}/products/{product}/electricity-tariffs/{code}/standard-unit-rates/"


def period_default(tariff: Tariff) -> tuple[dt.date, dt.date]:
    """From the day of the last price stored (or today), to tomorrow: what the daily fetch asks for."""
    zone = tariff.zone
    today = timezone.now().astimezone(zone).date()
    last = HalfHourPrice.objects.filter(tariff=tariff).order_by("-start").values_list("start", flat=True).first()
    first = min(last.astimezone(zone).date(), today) if last else today
    return first, today + dt.timedelta(days=1)


def tariff_prices_fetch(*, tariff: Tariff, product: str = "", region: str = "", date_from: dt.date | None = None,
                        date_to: dt.date | None = None, page_size: int = PAGE_SIZE) -> FetchReport:  # fmt: skip
    """Fetch the tariff's prices from Octopus between two local dates (both included; by default
    `period_default`), storing each page as it comes. A product and region given are kept on the
    tariff (the daily fetch asks again for them). Raises PricesFetchFailed when it stopped half way."""
    product, region = (product or tariff.octopus_product).strip().upper(), (region or tariff.octopus_region).upper()
    if not product or not PRODUCT_CODE.fullmatch(product) or len(product) > 64:
        raise PricesFetchRefused(f"“{product[:40]}” is not an Octopus product code (e.g. AGILE-24-10-01): give "
                                 "--product.")  # fmt: skip
    if len(region) != 1 or region not in REGIONS:
        raise PricesFetchRefused(f"“{region[:5]}” is not an Octopus region: give --region, one of {REGIONS}.")
    default_from, default_to = period_default(tariff)
    date_from, date_to = date_from or default_from, date_to or default_to
    if date_to < date_from or (date_to - date_from).days > MAX_DAYS:
        raise PricesFetchRefused(f"Ask for at most {MAX_DAYS} days at once, from a day up to a later one "
                                 f"(not {date_from} to {date_to}).")  # fmt: skip
    if (tariff.octopus_product, tariff.octopus_region) != (product, region):
        tariff.octopus_product, tariff.octopus_region = product, region
        tariff.save(update_fields=["octopus_product", "octopus_region"])
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=tariff.zone).astimezone(dt.UTC)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=tariff.zone).astimezone(dt.UTC)
    report = FetchReport(tariff=tariff.name, period_from=start, period_to=end)
    query = urllib.parse.urlencode({"period_from": _z(start), "period_to": _z(end), "page_size": page_size})
    url: str | None = f"{rates_url(product, region)}?{query}"
    try:
        while url:
            if report.pages >= MAX_PAGES:
                raise _PageError(f"more than {MAX_PAGES} pages")
            page = _page(url)
            prices = _prices(page["results"], report)
            with account_write_lock(tariff.user_id):
                report.stored += half_hour_prices_store(tariff=tariff, prices=prices)
            report.pages += 1
            url = _next(page.get("next"), url)
    except _PageError as error:
        note = (
            f"Stopped at page {report.pages + 1}: {error}. Stored what came before it ({report.stored:,} new or "
            f"changed of {report.received:,}); run it again for the rest, each half hour is stored once."
        )
        _note(tariff, note)
        logger.warning("tariff_prices_fetch_failed tariff_id=%d pages=%d error=%s", tariff.pk, report.pages, error)
        raise PricesFetchFailed(f"{tariff.name}: {note}") from None
    _note(tariff, report.text)
    logger.info("tariff_prices_fetched tariff_id=%d pages=%d received=%d stored=%d", tariff.pk, report.pages,
                report.received, report.stored)  # fmt: skip
    return report


class _PageError(Exception):
    pass


def _z(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _note(tariff: Tariff, note: str) -> None:
    Tariff.objects.filter(pk=tariff.pk).update(fetched_at=timezone.now(), fetch_note=note[:300])


def _page(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "PlugTrack"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (http(s) only: _next)
            body = response.read(MAX_PAGE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise _PageError(f"the server answered HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise _PageError(f"the server could not be reached ({getattr(error, 'reason', error)})") from None
    if len(body) > MAX_PAGE_BYTES:
        raise _PageError(f"a page larger than {MAX_PAGE_BYTES // 1024 // 1024} MB")
    try:
        page = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):
        raise _PageError("a page that is not JSON") from None
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise _PageError("a page not in Octopus's shape (no results)")
    return page


def _prices(results: list, report: FetchReport) -> list[tuple[dt.datetime, dt.datetime, Decimal]]:
    prices = {}
    for result in results:
        report.received += 1
        try:
            start = dt.datetime.fromisoformat(result["valid_from"]).astimezone(dt.UTC)
            end = result.get("valid_to") and dt.datetime.fromisoformat(result["valid_to"]).astimezone(dt.UTC)
            price = Decimal(result["value_inc_vat"]).quantize(Decimal("0.0001"))
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation):
            raise _PageError(f"a price not in Octopus's shape ({str(result)[:80]})") from None
        if not MIN_HALF_HOUR_P_PER_KWH <= price <= MAX_P_PER_KWH:
            raise _PageError(f"a price of {price}p/kWh, beyond what PlugTrack keeps")
        if (not end or not dt.timedelta(0) < end - start <= dt.timedelta(days=1)
                or result.get("payment_method") == SKIPPED_PAYMENT):  # fmt: skip
            report.skipped += 1
            continue
        prices[start] = (start, end, price)
    return sorted(prices.values())


def _next(link, current: str) -> str | None:
    """The next page's address, only on the server of the first (a page cannot send PlugTrack elsewhere)."""
    if not link:
        return None
    if not isinstance(link, str):
        raise _PageError("a page whose next page is not an address")
    here, there = urllib.parse.urlsplit(current), urllib.parse.urlsplit(link)
    if (there.scheme, there.netloc) != (here.scheme, here.netloc) or there.scheme not in ("http", "https"):
        raise _PageError(f"a next page on another server ({there.netloc[:60]})")
    return link


def tariff_prices_fetch_due() -> list[str]:
    """The daily fetch: each tariff set to fetch daily, from its last price to tomorrow. A failure
    is noted on its tariff (and logged) and the others go on. Returns what each said."""
    said = []
    for tariff in Tariff.objects.filter(fetch_daily=True).exclude(octopus_product="").exclude(octopus_region=""):
        try:
            said.append(tariff_prices_fetch(tariff=tariff).text)
        except PlugTrackError as error:  # (noted on the tariff)
            said.append(str(error))
    return said

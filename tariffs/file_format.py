"""PlugTrack's tariff file (docs/tariffs.md, "The tariff file"): an owner's tariffs and assignments
as JSON, read by `tariffs_import` and written by `tariffs_export`.

A file comes from anywhere, so it is checked like every other input before anything is written: its
size, its nesting, every key (an unknown one is a typo, refused), every value's type and bounds,
each version's bands (no overlap), each tariff's half-hourly prices (no overlap). Every problem is
named by where it is ("tariffs[0].versions[1].bands[2].start: …"); a file with any is refused whole."""

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from plugtrack_site.errors import PlugTrackError, excerpt
from plugtrack_site.numbers import decimal_parsed, decimal_text

from .models import (
    MAX_P_PER_KWH,
    MAX_STANDING_P_PER_DAY,
    MIN_HALF_HOUR_P_PER_KWH,
    MONTHS,
    WEEKDAYS,
    Band,
    bands_overlaps,
    time_zone_check,
)

FORMAT_KEY, FORMAT_VERSION = "plugtrack_tariffs", 1
MAX_FILE_BYTES = 4 * 1024 * 1024  # a year of half-hourly prices takes about 1.4 MB
MAX_DEPTH = 10  # the format is 8 deep (the root, tariffs, a tariff, versions, a version, bands, a band, days)
MAX_TARIFFS = 50
MAX_VERSIONS = 100
MAX_BANDS = 48
MAX_PRICES = 40_000  # two years of half hours, per tariff
MAX_ASSIGNMENTS = 500
MAX_TEXT = {"name": 80, "band": 40, "location": 120, "product": 64, "car": 100}
MAX_PRICE_LENGTH = dt.timedelta(days=1)
SHOWN_PROBLEMS = 20
REGIONS = "ABCDEFGHJKLMNP"
PRODUCT_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]*")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class TariffFileError(PlugTrackError):
    """A tariff file refused: every problem found (the first SHOWN_PROBLEMS), each where it is."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"- {problem}" for problem in problems[:SHOWN_PROBLEMS])
        more = f"\n… and {len(problems) - SHOWN_PROBLEMS} more." if len(problems) > SHOWN_PROBLEMS else ""
        super().__init__(f"{source} was not imported (nothing was changed):\n{shown}{more}")


@dataclass
class BandData:
    start: dt.time
    end: dt.time
    p_per_kwh: Decimal
    days: int
    months: int = 0
    name: str = ""


@dataclass
class VersionData:
    valid_from: dt.date
    default_p_per_kwh: Decimal
    standing_p_per_day: Decimal | None
    bands: list[BandData] = field(default_factory=list)


@dataclass
class TariffData:
    name: str
    time_zone: str
    versions: list[VersionData] = field(default_factory=list)
    prices: list[tuple[dt.datetime, dt.datetime, Decimal]] = field(default_factory=list)
    octopus_product: str = ""
    octopus_region: str = ""
    fetch_daily: bool = False


@dataclass
class AssignmentData:
    tariff: str
    valid_from: dt.date
    car: str | int | None
    where: str
    location: str


@dataclass
class TariffsFile:
    tariffs: list[TariffData]
    assignments: list[AssignmentData]


_MISSING = object()  # a required key not given (said once, by _Reader.keys)


class _Reader:
    """Reads the file's data, noting each problem where it is and going on to find the others."""

    def __init__(self):
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def keys(self, value, where: str, required: set[str], optional: set[str]) -> dict | None:
        if not isinstance(value, dict):
            self.problem(where, f"should be an object {{…}}, not {_kind(value)}.")
            return None
        for key in value:
            if key not in required | optional:
                self.problem(
                    where, f"unknown key “{excerpt(str(key))}” (known: {', '.join(sorted(required | optional))})."
                )
        for key in sorted(required - set(value)):
            self.problem(where, f"“{key}” is missing.")
        return value

    def items(self, value, where: str, most: int) -> list:
        if value is None or value is _MISSING:
            return []
        if not isinstance(value, list):
            self.problem(where, f"should be a list […], not {_kind(value)}.")
            return []
        if len(value) > most:
            self.problem(where, f"has {len(value):,} items; at most {most:,} are allowed.")
            return []
        return value

    def text(self, value, where: str, limit: int, *, blank: bool = False) -> str | None:
        if value is _MISSING:
            return None
        if value is None and blank:
            return ""
        if not isinstance(value, str):
            self.problem(where, f"should be text, not {_kind(value)}.")
            return None
        value = value.strip()
        if not value and not blank:
            self.problem(where, "is empty.")
            return None
        if len(value) > limit or "\x00" in value:
            self.problem(
                where, f"is longer than {limit} characters." if len(value) > limit else "holds a NUL character."
            )
            return None
        return value

    def money(self, value, where: str, low: Decimal, high: Decimal, *, blank: bool = False) -> Decimal | None:
        if value is _MISSING:
            return None
        if value is None and blank:
            return None
        number = decimal_parsed(value) if isinstance(value, str) else None
        if isinstance(value, _Number):
            number = decimal_parsed(value.digits)
        if number is None:
            self.problem(where, f'“{excerpt(str(value), 24)}” is not a price: give a decimal string such as "28.00".')
            return None
        if not low <= number <= high:
            self.problem(where, f"{decimal_text(number)} is not between {decimal_text(low)} and {decimal_text(high)}.")
            return None
        return number

    def date(self, value, where: str) -> dt.date | None:
        if value is _MISSING:
            return None
        try:
            if isinstance(value, str) and len(value) == 10:
                return dt.date.fromisoformat(value)
        except ValueError:
            pass
        self.problem(where, f"“{excerpt(str(value), 24)}” is not a date (YYYY-MM-DD).")
        return None

    def clock(self, value, where: str) -> dt.time | None:
        if value is _MISSING:
            return None
        match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.problem(where, f"“{excerpt(str(value), 24)}” is not a time of day (HH:MM, 00:00 to 23:59).")
            return None
        return dt.time(int(match[1]), int(match[2]))

    def instant(self, value, where: str) -> dt.datetime | None:
        if value is _MISSING:
            return None
        try:
            if isinstance(value, str) and len(value) <= 40:
                parsed = dt.datetime.fromisoformat(value)
                if parsed.tzinfo is not None:
                    return parsed.astimezone(dt.UTC)
        except ValueError:
            pass
        self.problem(where, f"“{excerpt(str(value), 32)}” is not a time with its offset (e.g. 2026-03-01T00:00:00Z).")
        return None

    def names(self, value, where: str, names: tuple[str, ...], *, empty: bool) -> int | None:
        if value is _MISSING:
            return None
        items = self.items(value, where, len(names))
        mask = 0
        for index, name in enumerate(items):
            if not isinstance(name, str) or name.lower() not in names:
                self.problem(f"{where}[{index}]", f"“{excerpt(str(name), 12)}” is not one of {', '.join(names)}.")
                return None
            mask |= 1 << names.index(name.lower())
        if not mask and not empty:
            self.problem(where, f"name at least one of {', '.join(names)}.")
            return None
        return mask


class _Number:
    """A JSON number as its text, read as a Decimal where a price is (never a float)."""

    def __init__(self, digits: str):
        self.digits = digits

    def __str__(self) -> str:
        return self.digits


def _kind(value) -> str:
    if isinstance(value, _Number):
        return "a number"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def tariffs_file_read(data: bytes, source: str) -> TariffsFile:
    """The file's tariffs and assignments, every one checked; else TariffFileError with every problem."""
    if len(data) > MAX_FILE_BYTES:
        raise TariffFileError(
            source, [f"it is larger than a tariff file may be ({MAX_FILE_BYTES // 1024 // 1024} MB)."]
        )
    try:
        parsed = json.loads(
            data.decode("utf-8"), parse_int=_Number, parse_float=_Number,
            parse_constant=lambda name: _Number(name), object_pairs_hook=_object,
        )  # fmt: skip
    except _KeyTwice as twice:
        raise TariffFileError(source, [f"the key “{excerpt(twice.key)}” is given twice in one object: "
                                       "which one is meant?"]) from None  # fmt: skip
    except UnicodeDecodeError:
        raise TariffFileError(source, ["it is not UTF-8 text."]) from None
    except json.JSONDecodeError as error:
        raise TariffFileError(source, [f"it is not JSON ({error})."]) from None
    except RecursionError:
        raise TariffFileError(source, [f"it is nested too deep (more than {MAX_DEPTH} levels)."]) from None
    depth = _depth(parsed)
    if depth > MAX_DEPTH:
        raise TariffFileError(source, [f"it is nested too deep ({depth} levels; at most {MAX_DEPTH})."])
    reader = _Reader()
    root = reader.keys(parsed, "", {FORMAT_KEY, "tariffs"}, {"assignments"})
    if root is None or reader.problems:
        raise TariffFileError(source, reader.problems or ["it is not a tariff file."])
    if str(root[FORMAT_KEY]) != str(FORMAT_VERSION):
        raise TariffFileError(source, [f"“{FORMAT_KEY}” is {excerpt(str(root[FORMAT_KEY]), 12)}: this PlugTrack "
                                       f"reads version {FORMAT_VERSION} of the tariff file."])  # fmt: skip
    listed = reader.items(root.get("tariffs", _MISSING), "tariffs", MAX_TARIFFS)
    tariffs = [_tariff(reader, item, f"tariffs[{index}]") for index, item in enumerate(listed)]
    names = [tariff.name for tariff in tariffs if tariff is not None]
    for name in {name for name in names if names.count(name) > 1}:
        reader.problem("tariffs", f"two tariffs are named “{name}”.")
    assignments = [_assignment(reader, item, f"assignments[{index}]") for index, item in
                   enumerate(reader.items(root.get("assignments"), "assignments", MAX_ASSIGNMENTS))]  # fmt: skip
    if reader.problems:
        raise TariffFileError(source, reader.problems)
    return TariffsFile(tariffs=tariffs, assignments=assignments)


class _KeyTwice(ValueError):
    def __init__(self, key: str):
        self.key = key


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused when it gives a key twice (JSON keeps the last silently)."""
    found = {}
    for key, value in pairs:
        if key in found:
            raise _KeyTwice(key)
        found[key] = value
    return found


def _depth(value) -> int:
    deepest, waiting = 0, [(value, 1)]
    while waiting:
        item, depth = waiting.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                waiting += [(child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _tariff(reader: _Reader, value, where: str) -> TariffData | None:
    item = reader.keys(value, where, {"name"}, {"time_zone", "versions", "prices", "octopus"})
    if item is None:
        return None
    name = reader.text(item.get("name", _MISSING), f"{where}.name", MAX_TEXT["name"])
    time_zone = item.get("time_zone", "Europe/London")
    try:
        time_zone_check(time_zone)
    except Exception as error:  # a ValidationError
        reader.problem(f"{where}.time_zone", " ".join(getattr(error, "messages", [str(error)])))
    tariff = TariffData(name=name or "", time_zone=time_zone if isinstance(time_zone, str) else "")
    for index, version in enumerate(reader.items(item.get("versions"), f"{where}.versions", MAX_VERSIONS)):
        tariff.versions.append(_version(reader, version, f"{where}.versions[{index}]"))
    starts = [version.valid_from for version in tariff.versions if version and version.valid_from]
    for day in {day for day in starts if starts.count(day) > 1}:
        reader.problem(f"{where}.versions", f"two versions are valid from {day}.")
    for index, price in enumerate(reader.items(item.get("prices"), f"{where}.prices", MAX_PRICES)):
        tariff.prices.append(_price(reader, price, f"{where}.prices[{index}]"))
    priced = sorted(price for price in tariff.prices if price is not None)
    for before, after in zip(priced, priced[1:], strict=False):
        if after[0] < before[1]:
            reader.problem(f"{where}.prices", f"the price from {after[0]:%Y-%m-%dT%H:%MZ} overlaps the one from "
                                              f"{before[0]:%Y-%m-%dT%H:%MZ}.")  # fmt: skip
            break
    if "octopus" in item:
        octopus = reader.keys(item["octopus"], f"{where}.octopus", {"product", "region"}, {"fetch_daily"})
        if octopus is not None:
            product = reader.text(octopus.get("product", _MISSING), f"{where}.octopus.product", MAX_TEXT["product"])
            if product and not PRODUCT_CODE.fullmatch(product):
                reader.problem(f"{where}.octopus.product", "is not an Octopus product code (e.g. AGILE-24-10-01).")
            region = octopus.get("region")
            if not isinstance(region, str) or len(region) != 1 or region not in REGIONS:
                reader.problem(f"{where}.octopus.region", f"should be one of the letters {REGIONS}.")
            fetch_daily = octopus.get("fetch_daily", False)
            if not isinstance(fetch_daily, bool):
                reader.problem(f"{where}.octopus.fetch_daily", "should be true or false.")
            tariff.octopus_product, tariff.octopus_region = product or "", region if isinstance(region, str) else ""
            tariff.fetch_daily = fetch_daily is True
    tariff.versions = [version for version in tariff.versions if version is not None]
    tariff.prices = priced
    return tariff


def _version(reader: _Reader, value, where: str) -> VersionData | None:
    item = reader.keys(value, where, {"valid_from", "default_p_per_kwh"}, {"standing_p_per_day", "bands"})
    if item is None:
        return None
    version = VersionData(
        valid_from=reader.date(item.get("valid_from", _MISSING), f"{where}.valid_from"),
        default_p_per_kwh=reader.money(item.get("default_p_per_kwh", _MISSING), f"{where}.default_p_per_kwh",
                                       Decimal(0), MAX_P_PER_KWH),
        standing_p_per_day=reader.money(item.get("standing_p_per_day"), f"{where}.standing_p_per_day", Decimal(0),
                                        MAX_STANDING_P_PER_DAY, blank=True),
    )  # fmt: skip
    for index, band in enumerate(reader.items(item.get("bands"), f"{where}.bands", MAX_BANDS)):
        version.bands.append(_band(reader, band, f"{where}.bands[{index}]"))
    if all(version.bands):
        overlaps = bands_overlaps([Band(start=band.start, end=band.end, days=band.days, months=band.months)
                                   for band in version.bands])  # fmt: skip
        for overlap in overlaps:
            reader.problem(f"{where}.bands", f"{overlap}: bands may leave gaps (the default price) but not overlap.")
    version.bands = [band for band in version.bands if band is not None]
    return version


def _band(reader: _Reader, value, where: str) -> BandData | None:
    item = reader.keys(value, where, {"days", "start", "end", "p_per_kwh"}, {"months", "name"})
    if item is None:
        return None
    band = BandData(
        start=reader.clock(item.get("start", _MISSING), f"{where}.start"),
        end=reader.clock(item.get("end", _MISSING), f"{where}.end"),
        p_per_kwh=reader.money(item.get("p_per_kwh", _MISSING), f"{where}.p_per_kwh", Decimal(0), MAX_P_PER_KWH),
        days=reader.names(item.get("days", _MISSING), f"{where}.days", WEEKDAYS, empty=False),
        months=reader.names(item.get("months"), f"{where}.months", MONTHS, empty=True),
        name=reader.text(item.get("name"), f"{where}.name", MAX_TEXT["band"], blank=True),
    )  # fmt: skip
    return band if None not in (band.start, band.end, band.p_per_kwh, band.days, band.months, band.name) else None


def _price(reader: _Reader, value, where: str) -> tuple[dt.datetime, dt.datetime, Decimal] | None:
    item = reader.keys(value, where, {"start", "end", "p_per_kwh"}, set())
    if item is None:
        return None
    start, end = (
        reader.instant(item.get("start", _MISSING), f"{where}.start"),
        reader.instant(item.get("end", _MISSING), f"{where}.end"),
    )
    price = reader.money(item.get("p_per_kwh", _MISSING), f"{where}.p_per_kwh", MIN_HALF_HOUR_P_PER_KWH, MAX_P_PER_KWH)
    if start and end and not dt.timedelta(0) < end - start <= MAX_PRICE_LENGTH:
        reader.problem(where, "its end should be after its start, by at most a day.")
        return None
    return (start, end, price) if None not in (start, end, price) else None


def _assignment(reader: _Reader, value, where: str) -> AssignmentData | None:
    item = reader.keys(value, where, {"tariff", "valid_from"}, {"car", "where", "location"})
    if item is None:
        return None
    car = item.get("car")
    if isinstance(car, _Number) and car.digits.isdigit() and len(car.digits) < 19:
        car = int(car.digits)
    elif car is not None:
        car = reader.text(car, f"{where}.car", MAX_TEXT["car"])
    place = item.get("where")
    if place not in (None, "home", "public"):
        reader.problem(f"{where}.where", f"“{excerpt(str(place), 12)}” should be home, public or null.")
    assignment = AssignmentData(
        tariff=reader.text(item.get("tariff", _MISSING), f"{where}.tariff", MAX_TEXT["name"]),
        valid_from=reader.date(item.get("valid_from", _MISSING), f"{where}.valid_from"),
        car=car, where=place or "", location=reader.text(item.get("location"), f"{where}.location",
                                                          MAX_TEXT["location"], blank=True),
    )  # fmt: skip
    return assignment if None not in (assignment.tariff, assignment.valid_from, assignment.location) else None


def money_text(value: Decimal) -> str:
    """A price as the file writes it: at least two decimals ("28.00", "7.50", "15.6345")."""
    text = decimal_text(value)
    whole, _point, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def tariffs_file_data(*, tariffs, assignments) -> dict:
    """The owner's tariffs (with versions, bands and prices prefetched or not) and assignments as the
    file's data: what `tariffs_file_read` reads back unchanged."""
    return {
        FORMAT_KEY: FORMAT_VERSION,
        "tariffs": [_tariff_data(tariff) for tariff in tariffs],
        "assignments": [
            {"tariff": assignment.tariff.name, "car": assignment.car.name or str(assignment.car) if assignment.car
             else None, "where": assignment.where or None, "location": assignment.location_label or None,
             "valid_from": assignment.valid_from.isoformat()}
            for assignment in assignments
        ],
    }  # fmt: skip


def _tariff_data(tariff) -> dict:
    data = {"name": tariff.name, "time_zone": tariff.time_zone}
    if tariff.octopus_product:
        data["octopus"] = {"product": tariff.octopus_product, "region": tariff.octopus_region,
                           "fetch_daily": tariff.fetch_daily}  # fmt: skip
    data["versions"] = [
        {"valid_from": version.valid_from.isoformat(), "default_p_per_kwh": money_text(version.default_p_per_kwh),
         "standing_p_per_day": None if version.standing_p_per_day is None else money_text(version.standing_p_per_day),
         "bands": [_band_data(band) for band in version.bands.all()]}
        for version in tariff.versions.all()
    ]  # fmt: skip
    data["prices"] = [
        {"start": start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "end": end.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "p_per_kwh": money_text(price)}
        for start, end, price in tariff.prices.order_by("start").values_list("start", "end", "p_per_kwh")
    ]  # fmt: skip
    return data


def _band_data(band) -> dict:
    data = {
        "days": [day for bit, day in enumerate(WEEKDAYS) if band.days & (1 << bit)],
        "start": f"{band.start:%H:%M}",
        "end": f"{band.end:%H:%M}",
        "p_per_kwh": money_text(band.p_per_kwh),
    }
    if band.months:
        data["months"] = [month for bit, month in enumerate(MONTHS) if band.months & (1 << bit)]
    if band.name:
        data["name"] = band.name
    return data

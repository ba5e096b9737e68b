"""A car's statement for a month, worked out (read only): the month's sessions, miles and kWh, and
the claim by a scheme from the rate table. The result is the statement's content, a plain dict of
strings and numbers (money and kWh as decimal strings) that every file is rendered from and whose
canonical JSON is hashed; docs/statements.md says what each figure means."""

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.errors import PlugTrackError
from sessions_app.analytics import is_home
from sessions_app.models import ChargingSession, CostSource
from settings_app.services import user_settings

from .models import (
    CURRENCY,
    BusinessMark,
    Rate,
    ReimbursementProfile,
    Scheme,
    Statement,
    month_last_day,
)  # fmt: skip

FORMAT_VERSION = 1
PENNY = Decimal("0.01")
HUNDREDTH_MILE = Decimal("0.01")
MILEAGE_BAND_MILES = 10_000

RULES = {
    Scheme.UK_AER: "HMRC's advisory electric rate: the business miles are shared between home and public charging "
    "by the month's kWh charged at each, and each share is paid at its rate in force on the day of the charge.",
    Scheme.UK_MILEAGE: "HMRC's approved mileage allowance for your own car: 45p a business mile for the first "
    "10,000 business miles of the tax year, 25p a mile after.",
    Scheme.DE_KWH: "Germany's rule from 2026: the kWh charged at home, measured, at the official household price "
    "in force on the day of the charge (or at what each charge cost).",
    Scheme.ACTUAL: "The actual cost of the month's charging: each session's recorded cost, else its cost worked "
    "out by your tariffs.",
}


class StatementError(PlugTrackError):
    """A statement that cannot be made as asked (no scheme, a month not yet over, …)."""


@dataclass(frozen=True)
class StatementRequest:
    """What a statement is made of: whose car, which month (its first day), the scheme (None: the
    car's profile's), and the business miles when entered."""

    user: User
    car: Car
    month: dt.date
    scheme: str | None = None
    business_miles: Decimal | None = None


def month_parse(text: str) -> dt.date:
    """"2026-05" → 1 May 2026; a StatementError for anything else."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise StatementError(f"“{text[:20]}” is not a month: give it as YYYY-MM, e.g. 2026-05.") from None


def canonical_json(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def money(amount: Decimal) -> str:
    return f"{amount.quantize(PENNY, ROUND_HALF_UP)}"


class RateTable:
    """The scheme's rates, looked up by day (and place, and band)."""

    def __init__(self, scheme: str):
        self.scheme = scheme
        self.rates = list(Rate.objects.filter(scheme=scheme).order_by("valid_from", "charging", "from_business_mile"))

    def on(self, day: dt.date, *, charging: str = "", from_mile: int = 0) -> Rate | None:
        """The rate in force on `day`: the newest from that day or before, for the place (a rate for
        anywhere serves where there is no rate for the place that is newer)."""
        found = None
        for rate in self.rates:
            if rate.valid_from > day:
                break
            if rate.from_business_mile == from_mile and rate.charging in ("", charging):
                found = rate
        return found

    def newest(self) -> dt.date | None:
        return max((rate.valid_from for rate in self.rates), default=None)


def _share(total: Decimal, weights: list[Decimal], quantum: Decimal) -> list[Decimal]:
    """`total` shared by `weights`, each part rounded to `quantum`, the rounding remainder given to the
    largest part so that the parts sum exactly to the total."""
    whole = sum(weights)
    parts = [(total * weight / whole).quantize(quantum, ROUND_HALF_UP) for weight in weights]
    if parts:
        largest = max(range(len(parts)), key=lambda index: weights[index])
        parts[largest] += total - sum(parts)
    return parts


def statement_compute(request: StatementRequest) -> dict:
    """The statement's content: every figure, every session and the claim, not yet finalised."""
    user, car, month = request.user, request.car, request.month
    if car.user_id != user.pk:
        raise StatementError(f"{user} has no car with id {car.pk}.")
    profile = ReimbursementProfile.objects.filter(car=car).first()
    scheme = request.scheme or (profile.scheme if profile else None)
    if scheme not in Scheme.values:
        if scheme:
            raise StatementError(f"“{scheme}” is not a scheme. Schemes: {', '.join(Scheme.values)}.")
        raise StatementError(
            f"{car} has no reimbursement profile: give the scheme ({', '.join(Scheme.values)}), or add a "
            "profile in the admin (Reimbursement profiles)."
        )
    last = month_last_day(month)
    settings = user_settings(user=user)
    rows = list(
        ChargingSession.objects.filter(car=car, date__gte=month, date__lte=last)
        .order_by("date", "odometer", "id")
        .values("id", "date", "started_at", "odometer", "odometer_before", "is_baseline", "location_label",
                "charge_network", "charge_delivered_kwh", "total_cost_gbp", "estimated_cost_gbp", "cost_source")
    )  # fmt: skip
    ids = [row["id"] for row in rows]
    marked = set(BusinessMark.objects.filter(session_id__in=ids).values_list("session_id", flat=True))
    warnings: list[str] = []
    notes: list[str] = []

    # The odometer: from the car's last reading before the month (the first session's previous one) to the last of it.
    if rows:
        start = rows[0]["odometer_before"] if rows[0]["odometer_before"] is not None else rows[0]["odometer"]
        end = max(row["odometer"] for row in rows)
    else:
        before = ChargingSession.objects.filter(car=car, date__lt=month).order_by("-date", "-odometer", "-id").first()
        start = end = before.odometer if before else None
        warnings.append("No charging sessions this month.")
    month_miles = (end - start) if start is not None else 0

    homes: dict[tuple[str, str], bool] = {}
    sessions = []
    for row in rows:
        key = (row["location_label"], row["charge_network"])
        if key not in homes:
            homes[key] = is_home(*key, settings)
        cost = row["total_cost_gbp"] if row["total_cost_gbp"] is not None else row["estimated_cost_gbp"]
        source = row["cost_source"] if cost is not None else CostSource.NONE
        if row["total_cost_gbp"] is not None:
            source = CostSource.RECORDED
        local_start = timezone.localtime(row["started_at"]) if row["started_at"] else None
        sessions.append({
            "id": row["id"],
            "date": row["date"].isoformat(),
            "time": f"{local_start:%H:%M}" if local_start else "",
            "where": "home" if homes[key] else "public",
            "location": row["location_label"],
            "kwh": f"{row['charge_delivered_kwh']}",
            "miles": (row["odometer"] - row["odometer_before"]) if row["odometer_before"] is not None else 0,
            "cost": money(cost) if cost is not None else "",
            "cost_source": CostSource(source).label,
            "estimated": source in (CostSource.TIMES, CostSource.DATE),
            "business": row["id"] in marked,
        })  # fmt: skip

    # Business miles: entered, else as the profile says (all the month's, or those of the sessions marked business).
    if request.business_miles is not None:
        if request.business_miles < 0:
            raise StatementError("Business miles cannot be negative.")
        business, business_source = request.business_miles, "entered"
    elif profile and profile.business_miles == ReimbursementProfile.BusinessMiles.ENTERED:
        raise StatementError(f"{car}'s profile says business miles are entered each month: give them.")
    elif profile and profile.business_miles == ReimbursementProfile.BusinessMiles.MARKED:
        business = Decimal(sum(session["miles"] for session in sessions if session["business"]))
        business_source = "marked"
    else:
        business, business_source = Decimal(month_miles), "all"
    if business > month_miles and scheme != Scheme.ACTUAL:
        warnings.append(
            f"The business miles ({business:,}) are more than the month's miles by the odometer ({month_miles:,})."
        )

    kwh_home = sum((Decimal(s["kwh"]) for s in sessions if s["where"] == "home"), Decimal(0))
    kwh_public = sum((Decimal(s["kwh"]) for s in sessions if s["where"] == "public"), Decimal(0))
    dated_costs = sum(1 for s in sessions if s["estimated"])
    costs = [Decimal(s["cost"]) for s in sessions if s["cost"]]
    estimated = [Decimal(s["cost"]) for s in sessions if s["cost"] and s["estimated"]]
    without_cost = sum(1 for s in sessions if not s["cost"])
    if dated_costs:
        notes.append(f"{dated_costs} session(s)' cost is an estimate by your tariffs, not a receipt (marked ≈).")

    lines, currency = _claim_lines(
        scheme=scheme, profile=profile, request=request, sessions=sessions, business=business,
        notes=notes, warnings=warnings,
    )  # fmt: skip
    claim = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    if scheme == Scheme.ACTUAL and without_cost:
        warnings.append(f"{without_cost} session(s) have no cost, recorded or estimated: they add nothing.")

    table = RateTable(scheme) if scheme != Scheme.ACTUAL else None
    newest = table.newest() if table else None
    republished = {Scheme.UK_AER: 3, Scheme.DE_KWH: 12}.get(scheme)
    if newest and republished and (last.year - newest.year) * 12 + last.month - newest.month >= republished:
        warnings.append(
            f"The newest rate in the table is from {newest:%-d %B %Y}: check that no newer rate has been published."
        )

    return {
        "plugtrack_statement": FORMAT_VERSION,
        "owner": user.get_username(),
        "car": {"id": car.pk, "name": str(car), "make_model": f"{car.make} {car.model}".strip()},
        "month": f"{month:%Y-%m}",
        "period": {"from": month.isoformat(), "to": last.isoformat()},
        "scheme": scheme,
        "scheme_name": Scheme(scheme).label,
        "rule": RULES[scheme],
        "employer": profile.employer if profile else "",
        "reference": profile.reference if profile else "",
        "currency": currency,
        "odometer": {"start": start, "end": end},
        "month_miles": month_miles,
        "business_miles": {"miles": f"{business}", "source": business_source},
        "kwh": {"home": f"{kwh_home}", "public": f"{kwh_public}", "total": f"{kwh_home + kwh_public}"},
        "claim_lines": lines,
        "claim": money(claim),
        "actual_cost": {
            "gbp": money(sum(costs, Decimal(0))),
            "estimated_gbp": money(sum(estimated, Decimal(0))),
            "sessions_without_cost": without_cost,
        },
        "sessions": sessions,
        "notes": notes,
        "warnings": warnings,
    }


def _claim_lines(*, scheme, profile, request, sessions, business, notes, warnings) -> tuple[list[dict], str]:
    currency = CURRENCY[scheme]
    if scheme == Scheme.UK_AER:
        return _uk_aer(sessions, business, notes, warnings), currency
    if scheme == Scheme.UK_MILEAGE:
        return _uk_mileage(request, business), currency
    if scheme == Scheme.DE_KWH:
        if profile and profile.german_price == ReimbursementProfile.GermanPrice.TARIFF:
            home = [s for s in sessions if s["where"] == "home"]
            notes.append("Each home session at its own cost, in pounds as PlugTrack records costs.")
            return [_line("Home charging at each session's cost", sum((Decimal(s["kwh"]) for s in home), Decimal(0)),
                          "kWh", None, sum((Decimal(s["cost"]) for s in home if s["cost"]), Decimal(0)),
                          estimate=any(s["estimated"] for s in home))], "GBP"  # fmt: skip
        return _de_kwh(sessions, warnings), currency
    costs = [Decimal(s["cost"]) for s in sessions if s["cost"]]
    kwh = sum((Decimal(s["kwh"]) for s in sessions), Decimal(0))
    return [_line("The month's charging at its cost", kwh, "kWh", None, sum(costs, Decimal(0)),
                  estimate=any(s["estimated"] for s in sessions))], currency  # fmt: skip


def _line(what: str, quantity: Decimal, unit: str, rate: Rate | None, amount: Decimal, *, estimate: bool) -> dict:
    return {
        "what": what,
        "quantity": f"{quantity}",
        "unit": unit,
        "rate": rate.amount_text if rate else "",
        "rate_from": rate.valid_from.isoformat() if rate else "",
        "amount": money(amount),
        "estimate": estimate,
    }


def _uk_aer(sessions, business: Decimal, notes, warnings) -> list[dict]:
    table = RateTable(Scheme.UK_AER)
    kwh_by: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    rates: dict[int, Rate] = {}
    for session in sessions:
        rate = table.on(dt.date.fromisoformat(session["date"]), charging=session["where"])
        if rate is None:
            raise StatementError(f"No advisory electric rate in the table for {session['date']}: add it in the admin.")
        rates[rate.pk] = rate
        kwh_by[(session["where"], rate.pk)] += Decimal(session["kwh"])
    if not kwh_by or not sum(kwh_by.values()):
        if business:
            warnings.append("No kWh charged this month: the business miles cannot be shared between home and public.")
        return []
    groups = sorted(kwh_by, key=lambda key: (key[0], rates[key[1]].valid_from))
    miles = _share(business, [kwh_by[key] for key in groups], HUNDREDTH_MILE)
    shared = len({where for where, _ in groups}) > 1
    if shared:
        notes.append("The business miles are shared between home and public charging by the month's kWh: an "
                     "apportionment, as HMRC's rule asks, not a measurement.")  # fmt: skip
    lines = []
    for (where, rate_id), share in zip(groups, miles, strict=True):
        rate = rates[rate_id]
        lines.append(_line(
            f"{'Home' if where == 'home' else 'Public'} charging ({kwh_by[(where, rate_id)]} kWh): business miles",
            share, "mile", rate, share * rate.amount, estimate=shared,
        ))  # fmt: skip
    return lines


def _uk_mileage(request: StatementRequest, business: Decimal) -> list[dict]:
    table = RateTable(Scheme.UK_MILEAGE)
    month = request.month
    tax_year_start = dt.date(month.year if month.month >= 4 else month.year - 1, 4, 1)
    before = Decimal(0)
    # The earlier months of the tax year, from their finalised statements (the newest version of each).
    latest: dict[dt.date, Statement] = {}
    for statement in Statement.objects.filter(
        user=request.user, car=request.car, scheme=Scheme.UK_MILEAGE, month__gte=tax_year_start, month__lt=month
    ).order_by("month", "version"):
        latest[statement.month] = statement
    for statement in latest.values():
        before += Decimal(json.loads(statement.content)["business_miles"]["miles"])
    lower, upper = table.on(month, from_mile=0), table.on(month, from_mile=MILEAGE_BAND_MILES)
    if lower is None or upper is None:
        raise StatementError(f"No mileage allowance rates in the table for {month:%B %Y}: add them in the admin.")
    in_lower = max(Decimal(0), min(business, MILEAGE_BAND_MILES - before))
    lines = []
    if in_lower or not business:
        lines.append(_line(f"Business miles within the first {MILEAGE_BAND_MILES:,} of the tax year "
                           f"({before:,} before this month)", in_lower, "mile", lower, in_lower * lower.amount,
                           estimate=False))  # fmt: skip
    if business - in_lower:
        lines.append(_line(f"Business miles above {MILEAGE_BAND_MILES:,} in the tax year", business - in_lower, "mile",
                           upper, (business - in_lower) * upper.amount, estimate=False))  # fmt: skip
    return lines


def _de_kwh(sessions, warnings) -> list[dict]:
    table = RateTable(Scheme.DE_KWH)
    kwh_by: dict[int, Decimal] = defaultdict(Decimal)
    rates: dict[int, Rate] = {}
    for session in sessions:
        if session["where"] != "home":
            continue
        rate = table.on(dt.date.fromisoformat(session["date"]))
        if rate is None:
            raise StatementError(f"No German rate per kWh in the table for {session['date']}: add it in the admin.")
        rates[rate.pk] = rate
        kwh_by[rate.pk] += Decimal(session["kwh"])
    if not kwh_by:
        warnings.append("No kWh charged at home this month: Germany's rule pays only for those.")
    return [
        _line(f"kWh charged at home at the official price from {rates[rate_id].valid_from:%-d %b %Y}", kwh,
              "kWh", rates[rate_id], kwh * rates[rate_id].amount, estimate=False)
        for rate_id, kwh in sorted(kwh_by.items(), key=lambda item: rates[item[0]].valid_from)
    ]  # fmt: skip

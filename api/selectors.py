"""What the API reads: a token's cars and sessions (a page at a time, by an opaque cursor over the
sessions' order: date, odometer, id), each session as the API shows it, and a car's analytics for a period."""

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from cars_app.models import Car
from sessions_app.analytics import CarSummary, car_summary, home_sessions, is_home
from sessions_app.models import CHRONOLOGICAL, ChargingSession
from settings_app.services import UserSettings, user_settings

from .errors import ApiError
from .models import ApiToken
from .services import token_cars


def token_car(token: ApiToken, car_id: int | None) -> Car:
    """The car `car_id` if the token may use it, else 404 (another owner's and one outside the token's list
    alike: nothing is said of it); with no id, the token's only car."""
    cars = token_cars(token)
    if car_id is None:
        only = list(cars.order_by("pk")[:2])
        if len(only) == 1:
            return only[0]
        named = ", ".join(f'{car.pk} = "{car}"' for car in cars.order_by("pk")) or "none"
        raise ApiError(422, f"Give the car: its id as `car`. The cars this token may use: {named}.")
    car = cars.filter(pk=car_id).first()
    if car is None:
        raise ApiError(404, f"This token may use no car {car_id}: GET /api/v1/cars lists those it may.")
    return car


def where_filter(token: ApiToken, where: str | None) -> Q | None:
    """The owner's home sessions ("home"), or the others ("public"), by their home words and public networks."""
    if not where:
        return None
    home = home_sessions({token.user_id: user_settings(user=token.user_id)})
    return home if where == "home" else ~home


def sessions_of(
    token: ApiToken, *, car: Car | None, date_from: dt.date | None, date_to: dt.date | None, where: str | None
) -> QuerySet[ChargingSession]:
    """The token's sessions that match: one car or all it may use, dates inclusive, home or public."""
    sessions = ChargingSession.objects.filter(user_id=token.user_id)
    if car is not None:
        sessions = sessions.filter(car=car)
    elif token.cars.exists():
        sessions = sessions.filter(car__in=token_cars(token))
    if date_from:
        sessions = sessions.filter(date__gte=date_from)
    if date_to:
        sessions = sessions.filter(date__lte=date_to)
    if (only := where_filter(token, where)) is not None:
        sessions = sessions.filter(only)
    return sessions


def cursor_of(session: ChargingSession) -> str:
    text = f"{session.date.isoformat()}|{session.odometer}|{session.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(cursor: str) -> Q:
    """The sessions after the one `cursor` names, in the order date, odometer, id (ties broken by id)."""
    try:
        day, odometer, pk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        day, odometer, pk = dt.date.fromisoformat(day), int(odometer), int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(422, "This cursor is not one the API gave: give `next_cursor` as it came, or "
                       "start again without a cursor.") from None  # fmt: skip
    return Q(date__gt=day) | Q(date=day, odometer__gt=odometer) | Q(date=day, odometer=odometer, pk__gt=pk)


def sessions_page(sessions: QuerySet[ChargingSession], *, limit: int, cursor: str | None):
    """A page of `limit` sessions in order after `cursor`, and the cursor of the next page (None after the last)."""
    if cursor:
        sessions = sessions.filter(_after(cursor))
    page = list(sessions.select_related("external").order_by(*CHRONOLOGICAL)[: limit + 1])
    return page[:limit], cursor_of(page[limit - 1]) if len(page) > limit else None


def _number(value) -> float | None:
    return None if value is None else float(value)


def session_data(session: ChargingSession, settings: UserSettings) -> dict:
    """A session as the API shows it (SessionOut): numbers as JSON numbers, exact to their stored decimals."""
    external = getattr(session, "external", None)
    return {
        "id": session.pk, "car": session.car_id, "date": session.date, "odometer": session.odometer,
        "miles": None if session.odometer_before is None else session.odometer - session.odometer_before,
        "charge_type": session.charge_type, "charge_power_kw": _number(session.charge_power_kw),
        "location_label": session.location_label, "charge_network": session.charge_network,
        "charge_delivered_kwh": float(session.charge_delivered_kwh), "duration_mins": session.duration_mins,
        "cost_per_kwh": _number(session.cost_per_kwh), "total_cost_gbp": _number(session.total_cost_gbp),
        "soc_from": session.soc_from, "soc_to": session.soc_to, "ambient_temp_c": _number(session.ambient_temp_c),
        "notes": session.notes, "started_at": session.started_at and timezone.localtime(session.started_at),
        "ended_at": session.ended_at and timezone.localtime(session.ended_at),
        "home": is_home(session.location_label, session.charge_network, settings),
        "flagged": bool(session.checks), "import_id": session.batch_id,
        "external_id": external.external_id if external else None,
    }  # fmt: skip


@dataclass(frozen=True)
class Period:
    name: str  # "month", "year" or "all"
    first_day: dt.date | None
    last_day: dt.date | None

    @classmethod
    def of(cls, name: str, today: dt.date) -> "Period":
        """This month, or this year, so far (to its last day); or all."""
        if name == "month":
            following = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            return cls(name, today.replace(day=1), following - dt.timedelta(days=1))
        if name == "year":
            return cls(name, today.replace(month=1, day=1), today.replace(month=12, day=31))
        return cls(name, None, None)


def analytics_summary(*, car: Car, period: Period) -> CarSummary:
    """The car's figures (sessions_app.analytics) over the period's months."""
    months = (period.first_day, period.last_day.replace(day=1)) if period.first_day else None
    return car_summary(car=car, settings=user_settings(user=car.user_id), months=months)

"""A session posted to the API, imported as a one-row file is: its fields made PlugTrack's cells
(sessions_app.imports.OneSession: km, another currency, the previous odometer, each said in its notes),
then the import engine (`charging_sessions_rows_import`) with its validation, hard bounds, plausibility
warnings and duplicate key, under the owner's write lock. What one token posts in a day is one import
record (`import_recorded`, adding to the day's), so that the admin's Undo removes those sessions together;
each stored session is told as a `session.created` event, as one added in the admin is.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from sessions_app.imports import (
    FIELDS,
    EngineOptions,
    ImportChoices,
    ImportReport,
    ImportSource,
    OneSession,
    RowIssue,
    charging_sessions_rows_import,
    import_recorded,
)
from sessions_app.models import ChargingSession
from sessions_app.services import session_created_event

from .models import ApiToken, SessionExternalId, TokenImportDay

logger = logging.getLogger("plugtrack.api")

CREATED, DUPLICATE, INVALID, CAR_GONE = "created", "duplicate", "invalid", "car gone"


@dataclass
class Posted:
    """What became of a posted session: CREATED (`session`, with `warnings`), DUPLICATE (`session`: the one
    stored already), INVALID (`errors`, in the import report's shape) or CAR_GONE."""

    outcome: str
    session: ChargingSession | None = None
    warnings: list[RowIssue] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    message: str = ""
    import_id: int | None = None


class _Refused(Exception):
    def __init__(self, posted: Posted):
        self.posted = posted


def session_post(
    *, token: ApiToken, car: Car, fields: dict[str, str], choices: ImportChoices, odometer_unit: str = "miles",
    external_id: str = "", within: Callable[[Posted], None] | None = None,
) -> Posted:  # fmt: skip
    """Import one session of `token`'s owner into `car` (one the token may use): `fields` are PlugTrack's
    columns as text (csv_format.FIELDS), `choices` the currency, rate and blank-odometer rule. `within`: told
    a created session's outcome inside the transaction that writes it (to record the answer with it).
    Nothing is written unless the session is created."""
    user = token.user
    try:
        with account_write_lock(user.pk):
            if not Car.objects.filter(pk=car.pk, user=user).exists():  # (removed while this waited)
                raise _Refused(Posted(CAR_GONE, message=f"Car {car.pk} no longer exists."))
            if external_id and (known := _external(car, external_id)):
                raise _Refused(Posted(DUPLICATE, known, message=(
                    f"A session with the external_id “{external_id}” is stored already for this car: session "
                    f"{known.pk} ({known})."
                )))  # fmt: skip
            posted = _imported(token, car, fields, choices, odometer_unit)
            if external_id:
                SessionExternalId.objects.create(session=posted.session, car=car, external_id=external_id)
            if within:
                within(posted)
    except _Refused as refused:
        return refused.posted
    logger.info(
        "api_session_posted user=%s token=%s car_id=%s session_id=%s import_id=%s warnings=%d", user.username,
        token.prefix, car.pk, posted.session.pk, posted.import_id, len(posted.warnings),
    )  # fmt: skip
    return posted


def _imported(token: ApiToken, car: Car, fields: dict[str, str], choices: ImportChoices, unit: str) -> Posted:
    day = timezone.localdate()
    today = TokenImportDay.objects.filter(token=token, day=day, batch__undone_at__isnull=True).select_related("batch")
    link = today.first()
    name = f"API token “{token.name}” ({token.public_part}…), {day:%d %b %Y}"
    report = ImportReport(source=name, car=f"{car} (id {car.pk})", dry_run=False)
    source = OneSession(fields=fields, car=car, choices=choices, odometer_unit=unit, detected={"token": str(token)})
    cells: list[list[str]] = []
    with source.open(name) as (columns, rows, detected):
        recording = import_recorded(user=token.user, car=car, source=ImportSource(name, None, detected), report=report,
                                    adding_to=link.batch if link else None, announced=False)  # fmt: skip
        with recording as batch:
            charging_sessions_rows_import(
                user=token.user, rows=(_for(row, car, cells) for row in rows), columns=columns, report=report,
                options=EngineOptions(batch=batch),
            )  # fmt: skip
            if report.error_count:
                raise _Refused(Posted(INVALID, errors=report.errors, message=(
                    "The session was not stored: " + "; ".join(_said(issue) for issue in report.errors[:3])
                )))  # fmt: skip
            stored = _stored(car, cells[0])
            if report.skipped_duplicates:
                raise _Refused(Posted(DUPLICATE, stored, message=(
                    f"This session is stored already (the same car, date, odometer and kWh): session {stored.pk}."
                )))  # fmt: skip
    if link is None:
        TokenImportDay.objects.create(token=token, day=day, batch=batch)
    elif batch.car_id not in (None, car.pk):  # the token posted for two cars today: the record names neither
        batch.car = None
        batch.save(update_fields=["car"])
    session_created_event(stored.pk)
    return Posted(CREATED, stored, warnings=report.warnings, import_id=batch.pk)


def _for(row, car: Car, cells: list):
    """A row of OneSession's as the engine takes it (with its car), its cells kept for the key they make."""
    if isinstance(row, RowIssue):
        return row
    cells.append(row[1])
    return row[0], car, row[1]


def _stored(car: Car, cells: list[str]) -> ChargingSession:
    """The car's session with the duplicate key the row's cells make (the engine checked them)."""
    values = dict(zip(FIELDS, cells, strict=True))
    return ChargingSession.objects.get(
        car=car, date=dt.date.fromisoformat(values["date"].strip()), odometer=int(values["odometer"]),
        charge_delivered_kwh=Decimal(values["charge_delivered_kwh"].strip()),
    )  # fmt: skip


def _external(car: Car, external_id: str) -> ChargingSession | None:
    known = SessionExternalId.objects.filter(car=car, external_id=external_id).select_related("session").first()
    return known.session if known else None


def _said(issue: RowIssue) -> str:
    return f"{issue.field}: {issue.message}" if issue.field else issue.message

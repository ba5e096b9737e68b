"""PlugTrack's HTTP API, /api/v1/ (docs/api.md): each route a plain function that checks the token's
scope and cars, then calls PlugTrack's services and selectors, the ones the admin and the commands call.

Authentication is `Authorization: Bearer pt_…` on every route (api.services); each token's requests are
counted (api.throttling); a POST needs an Idempotency-Key (api.idempotency). Every refusal is a small JSON
object with a message (api.errors), whatever raised it.
"""

import datetime as dt
import ipaddress
import logging
from typing import Annotated, Literal

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.security import HttpBearer

from backups.models import BackupSchedule
from jobs.models import Job
from jobs.services import job_start, job_state
from plugtrack_site.account_lock import AccountBusy, sqlite_busy
from plugtrack_site.downloads import csv_download
from plugtrack_site.errors import Ask, PlugTrackError, excerpt
from plugtrack_site.numbers import decimal_text
from plugtrack_site.security import client_ip
from sessions_app.imports import ImportChoices, RowIssue, charging_sessions_csv, sessions_csv_name
from settings_app.services import user_settings

from . import posting
from .errors import ApiError, CompactJSON, json_response
from .idempotency import HEADER as IDEMPOTENCY_KEY
from .idempotency import Record, Reply, idempotent
from .models import ApiToken
from .schemas import (
    CarOut,
    Duplicate,
    Invalid,
    JobOut,
    Message,
    SessionCreated,
    SessionIn,
    SessionOut,
    SessionPage,
    SummaryOut,
)
from .selectors import (
    Period,
    analytics_summary,
    session_data,
    sessions_of,
    sessions_page,
    token_car,
    where_filter,
)
from .services import TokenRefused, api_token_authenticate, token_cars
from .throttling import auth_failure_count, auth_failures_wait, rate_wait

logger = logging.getLogger("plugtrack.api")

Scope = ApiToken.Scope
_SCOPE_SAID = {
    Scope.SESSIONS_READ: "read sessions", Scope.SESSIONS_WRITE: "post sessions",
    Scope.ANALYTICS_READ: "read analytics", Scope.BACKUPS_RUN: "start backups",
}  # fmt: skip
# The fields of a posted session whose name in PlugTrack's rows (and so in the engine's errors) is another.
_FIELD_POSTED = {"total_cost_gbp": "total_cost"}


def _address(request: HttpRequest) -> str | None:
    """The client's address as the login's throttling takes it, if it is one."""
    try:
        return str(ipaddress.ip_address(client_ip(request) or ""))
    except ValueError:
        return None


class TokenAuth(HttpBearer):
    """`Authorization: Bearer pt_<id>_<secret>`: the token (api.services), each request of it counted
    (api.throttling); an address whose tokens failed 10 times in 15 minutes is shut out meanwhile."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        address = _address(request)
        if wait := auth_failures_wait(address):
            raise ApiError(
                429, f"Too many wrong tokens came from this address: try again in {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )  # fmt: skip
        try:
            api_token = api_token_authenticate(presented=token, address=address)
        except TokenRefused as error:
            auth_failure_count(address)
            raise ApiError(401, str(error), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        writing = request.method not in ("GET", "HEAD", "OPTIONS")
        if wait := rate_wait(token_id=api_token.pk, writing=writing):
            limit = settings.PLUGTRACK_API_WRITES_PER_MINUTE if writing else settings.PLUGTRACK_API_READS_PER_MINUTE
            raise ApiError(
                429, f"This token has made its {limit} {'writes' if writing else 'reads'} of this minute: try again "
                f"in {wait} seconds.", headers={"Retry-After": str(wait)},
            )  # fmt: skip
        return api_token


class PlugTrackApi(NinjaAPI):
    def validation_error_from_error_contexts(self, error_contexts) -> ValidationError:
        """Parameters and bodies that are not what a route takes, each problem as an import's report names a
        row's ({row, field, value, message, kind}; row 1 for the body, none for the query)."""
        issues = []
        for context in error_contexts:
            source = context.model.__ninja_param_source__
            for error in context.pydantic_validation_error.errors(include_url=False):
                loc = [str(part) for part in error["loc"] if part != "payload"]
                issues.append(_issue(source, loc, error))
        return ValidationError(issues)


def _issue(source: str, loc: list[str], error: dict) -> dict:
    value = error.get("input")
    kind, message = error["type"], error["msg"].removeprefix("Value error, ")
    if kind == "missing" and source == "body" and not loc:
        message = "The body is empty: send the session as a JSON object (docs/api.md)."
    elif kind == "missing":
        message = "A value is required."
    elif kind == "extra_forbidden":
        message = "Not one of the fields PlugTrack takes: check its spelling (docs/api.md lists them)."
    elif kind in ("model_attributes_type", "dict_type"):
        message = "The body must be a JSON object of the session's fields."
    said = "" if isinstance(value, dict | list) or value is None else excerpt(str(value), 100)
    return {"row": 1 if source == "body" else None, "field": loc[-1] if loc else "", "value": said,
            "message": message, "kind": kind}  # fmt: skip


api = PlugTrackApi(
    title="PlugTrack API",
    version="1",
    description="Sessions in and out, a car's analytics, backups: docs/api.md has the reference with examples.",
    urls_namespace="api-v1",
    docs=Swagger(settings={"validatorUrl": None}),  # (Swagger UI's validator badge is fetched from its own site)
    docs_url=None,  # served below, to logged-in staff only: the OpenAPI document itself is public
    auth=TokenAuth(),
    renderer=CompactJSON(),
)


# --- refusals, each as {"message": …} ----------------------------------------------------------


@api.exception_handler(ApiError)
def _refused(request, error: ApiError):
    return error.response()


@api.exception_handler(AuthenticationError)
def _no_token(request, error):
    return json_response(
        401, {"message": "This needs a token: send it as Authorization: Bearer pt_… (its owner makes one in the "
              "admin, API tokens)."}, {"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


@api.exception_handler(HttpError)
def _http_error(request, error: HttpError):
    if str(error).startswith("Cannot parse request body"):  # (ninja's words for a body json.loads refused)
        cause = error.__cause__
        why = "nested too deeply" if isinstance(cause, RecursionError) else excerpt(str(cause), 120)
        return json_response(422, {"message": f"The body is not JSON ({why})."})
    return json_response(error.status_code, {"message": str(error)})


@api.exception_handler(ValidationError)
def _not_what_it_takes(request, error: ValidationError):
    said = "; ".join(f"{issue['field']}: {issue['message'].rstrip('.')}" if issue["field"] else
                     issue["message"].rstrip(".") for issue in error.errors[:3])  # fmt: skip
    return json_response(422, {"message": f"Not what this takes: {said}.", "errors": error.errors})


@api.exception_handler(Http404)
def _not_found(request, error):
    return json_response(404, {"message": "Not found."})


@api.exception_handler(AccountBusy)
def _busy(request, error: AccountBusy):
    return json_response(503, {"message": str(error)}, {"Retry-After": "30"})


@api.exception_handler(PlugTrackError)
def _plugtrack_error(request, error: PlugTrackError):
    return json_response(422, {"message": api_words(error)})


@api.exception_handler(Exception)
def _unexpected(request, error: Exception):
    if sqlite_busy(error):  # SQLite's one writer held past the wait (an import writing): as the admin's busy page
        return _busy(request, AccountBusy())
    logger.exception("api_error path=%s", request.path)
    return json_response(500, {"message": "Something went wrong in PlugTrack; the server's log says what."})


def api_words(error: PlugTrackError) -> str:
    """A message that asks for a choice, naming the API's fields (not the command's options, nor the admin's)."""
    said = {"currency": '"currency" (e.g. "EUR" with its "rate", 0.86)', "rate": '"rate" (pounds per unit, e.g. 0.86)'}
    parts = [
        '"currency": "none"' if isinstance(part, Ask) and "none" in part.option
        else said.get(part.choice, f'"{part.choice}"') if isinstance(part, Ask) else str(part)
        for part in error.parts
    ]  # fmt: skip
    return "".join(parts)


def _scope(request: HttpRequest, scope: str) -> ApiToken:
    token: ApiToken = request.auth
    if not token.may(scope):
        raise ApiError(
            403, f"This token may not {_SCOPE_SAID[scope]}: that needs the scope {scope}, and it has "
            f"{', '.join(token.scopes)}. Its owner can make a token that has it.",
        )  # fmt: skip
    return token


_ERRORS = {401: Message, 403: Message, 404: Message, 422: Invalid, 429: Message}
DateFrom = Annotated[dt.date | None, Query(alias="from", description="The first date, inclusive.")]
DateTo = Annotated[dt.date | None, Query(alias="to", description="The last date, inclusive.")]
Where = Annotated[Literal["home", "public"] | None, Query(description="Home sessions only, or public ones.")]


# --- sessions ------------------------------------------------------------------------------------


@api.post(
    "/sessions", response={201: SessionCreated, 400: Message, 409: Duplicate, 413: Message, **_ERRORS, 503: Message},
    tags=["sessions"], summary="Post a finished session", url_name="sessions",
    openapi_extra={"parameters": [{
        "in": "header", "name": IDEMPOTENCY_KEY, "required": True, "schema": {"type": "string", "maxLength": 255},
        "description": "The same for the same session sent again (e.g. the time the charge ended).",
    }]},
)  # fmt: skip
def sessions_post(request: HttpRequest, payload: SessionIn):
    """One finished session, checked as a row of an imported file is (bounds, plausibility, duplicate key) and
    stored in the day's import record of this token. 201: the session and its warnings; 409: stored already
    (its id); 422: its errors. Needs sessions:write."""
    token = _scope(request, Scope.SESSIONS_WRITE)
    car = token_car(token, payload.car)
    choices = ImportChoices(
        currency=payload.currency, rate=payload.rate,
        blank_odometer="previous" if payload.odometer_rule else "error",
    )  # fmt: skip
    return idempotent(request, token, lambda record: _session_posted(token, car, payload, choices, record))


def _session_posted(token: ApiToken, car, payload: SessionIn, choices: ImportChoices, record: Record) -> HttpResponse:
    created: list[HttpResponse] = []
    settings_now = user_settings(user=token.user_id)

    def within(posted: posting.Posted) -> None:  # in the transaction that stores it
        data = {"session": session_data(posted.session, settings_now), "warnings": _issues(posted.warnings),
                "import_id": posted.import_id}  # fmt: skip
        url = reverse("api-v1:sessions") + f"?car={car.pk}&from={posted.session.date}&to={posted.session.date}"
        created.append(record(Reply(201, SessionCreated(**data).model_dump(mode="json"), {"Location": url})))

    posted = posting.session_post(
        token=token, car=car, fields=_cells(payload), choices=choices, external_id=payload.external_id,
        odometer_unit="km" if payload.odometer_unit == "km" else "miles", within=within,
    )  # fmt: skip
    if posted.outcome == posting.CREATED:
        return created[0]
    if posted.outcome == posting.DUPLICATE:
        return record(Reply(409, {"message": posted.message, "session_id": posted.session.pk}))
    if posted.outcome == posting.CAR_GONE:
        return record(Reply(404, {"message": posted.message}))
    return record(Reply(422, {"message": posted.message, "errors": _issues(posted.errors)}))


def _cells(payload: SessionIn) -> dict[str, str]:
    """The posted session as PlugTrack's cells (the columns of its CSV, as text)."""
    def text(value) -> str:
        if value is None:
            return ""
        return decimal_text(value) if not isinstance(value, int | str) else str(value)

    day = payload.date or timezone.localtime(payload.started_at).date()
    cells = {name: text(getattr(payload, name)) for name in (
        "odometer", "charge_type", "charge_power_kw", "location_label", "charge_network", "charge_delivered_kwh",
        "duration_mins", "cost_per_kwh", "soc_from", "soc_to", "ambient_temp_c", "notes",
    )}  # fmt: skip
    moments = {name: moment.isoformat() for name in ("started_at", "ended_at") if (moment := getattr(payload, name))}
    return cells | moments | {"date": day.isoformat(), "total_cost_gbp": text(payload.total_cost)}


def _issues(issues: list[RowIssue]) -> list[dict]:
    return [{"row": issue.row, "field": _FIELD_POSTED.get(issue.field, issue.field), "value": issue.value,
             "message": issue.message, "kind": issue.kind} for issue in issues]  # fmt: skip


@api.get("/sessions", response={200: SessionPage, **_ERRORS}, tags=["sessions"], summary="List sessions")
def sessions_list(
    request: HttpRequest,
    car: int | None = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    where: Where = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Sessions a page: 1 to 500.")] = 100,
    cursor: Annotated[str | None, Query(description="The page after the one whose `next_cursor` this is.")] = None,
):
    """The sessions in order (date, odometer, id), `limit` at a time: the page after `cursor`. Needs
    sessions:read; only the cars the token may use."""
    token = _scope(request, Scope.SESSIONS_READ)
    chosen = token_car(token, car) if car is not None else None
    settings_now = user_settings(user=token.user_id)
    sessions = sessions_of(token, car=chosen, date_from=date_from, date_to=date_to, where=where)
    page, next_cursor = sessions_page(sessions, limit=limit, cursor=cursor)
    # Built as they are, not validated again (session_data gives each field its schema's type): validating
    # the dicts of a page of 500 took as long as reading and making them.
    return SessionPage.model_construct(
        sessions=[SessionOut.model_construct(**session_data(session, settings_now)) for session in page],
        next_cursor=next_cursor,
    )


@api.get(
    "/sessions.csv", response={200: None, **_ERRORS}, tags=["sessions"], summary="Sessions as PlugTrack's CSV",
    openapi_extra={"responses": {200: {
        "description": "PlugTrack's own sessions CSV of one car, streamed: it imports back as duplicates.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }}},
)  # fmt: skip
def sessions_csv(
    request: HttpRequest,
    car: Annotated[int | None, Query(description="Which car (a CSV holds one); the token's only one if none.")] = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    where: Where = None,
    with_times: Annotated[bool, Query(description="Add started_at and ended_at after the 14 columns.")] = False,
):
    """One car's sessions as `sessions_export` writes them, streamed as they are read. Needs sessions:read."""
    token = _scope(request, Scope.SESSIONS_READ)
    chosen = token_car(token, car)
    lines = charging_sessions_csv(user=token.user, car=chosen, date_from=date_from, date_to=date_to,
                                  with_times=with_times, only=where_filter(token, where))  # fmt: skip
    return csv_download(lines, sessions_csv_name(user=token.user, car=chosen))


# --- cars and analytics --------------------------------------------------------------------------


@api.get("/cars", response={200: list[CarOut], **_ERRORS}, tags=["cars"], summary="The cars the token may use")
def cars_list(request: HttpRequest):
    """Every token may list the cars it may use (their ids are what the other routes take)."""
    return list(token_cars(request.auth).order_by("pk"))


@api.get("/analytics/summary", response={200: SummaryOut, **_ERRORS}, tags=["analytics"], summary="A car's figures")
def analytics_summary_get(
    request: HttpRequest,
    car: Annotated[int | None, Query(description="Which car; the token's only car if left out.")] = None,
    period: Annotated[Literal["month", "year", "all"], Query(description="This month, this year, or all.")] = "all",
):
    """kWh, cost, miles, cost per mile against petrol, savings and the home share, as the car's analytics page
    works them out, with where the efficiency came from. Needs analytics:read."""
    token = _scope(request, Scope.ANALYTICS_READ)
    chosen = token_car(token, car)
    span = Period.of(period, timezone.localdate())
    summary = analytics_summary(car=chosen, period=span)

    def rounded(value, places: int):
        return None if value is None else round(float(value), places)

    return {
        "car": chosen.pk, "period": span.name, "first_day": span.first_day, "last_day": span.last_day,
        "sessions": summary.sessions, "kwh": rounded(summary.kwh, 3), "cost_gbp": rounded(summary.cost_gbp, 2),
        "priced_sessions": summary.priced_sessions, "miles": summary.miles,
        "efficiency_mpkwh": rounded(summary.efficiency_mpkwh, 2), "efficiency_source": summary.efficiency_source.value,
        "efficiency_note": summary.efficiency_note, "pence_per_mile": rounded(summary.ev_ppm, 2),
        "petrol_pence_per_mile": rounded(summary.petrol_ppm, 2), "savings_gbp": rounded(summary.savings_gbp, 2),
        "home_kwh": rounded(summary.home_kwh, 3), "home_share_percent": rounded(summary.home_share_percent, 1),
        "flagged_left_out": summary.left_out,
    }  # fmt: skip


# --- backups and their jobs ----------------------------------------------------------------------


def _job_data(job: Job) -> dict:
    return {
        "id": job.pk, "kind": job.kind, "status": job_state(job).status, "created_at": job.created_at,
        "started_at": job.started_at, "finished_at": job.finished_at,
        "outcome": [{"level": level, "message": message} for level, message in job.outcome],
        "report": job.report, "url": reverse("api-v1:job", args=[job.pk]),
    }  # fmt: skip


@api.post(
    "/backups", response={202: JobOut, 400: Message, 409: Message, 413: Message, **_ERRORS}, tags=["backups"],
    summary="Start a backup", openapi_extra={"parameters": [{
        "in": "header", "name": IDEMPOTENCY_KEY, "required": True, "schema": {"type": "string", "maxLength": 255},
    }]},
)  # fmt: skip
def backups_post(request: HttpRequest):
    """A backup of the whole account, made by the background worker as the admin's "Create a backup now" is:
    encrypted with the backup passphrase when the owner's scheduled backups are. 202 and the job's URL, to
    follow. Needs backups:run."""
    token = _scope(request, Scope.BACKUPS_RUN)
    if not token.user.has_perm("backups.add_backup"):
        raise ApiError(403, "This token's owner may not make backups.")

    def start(record: Record) -> HttpResponse:
        schedule = BackupSchedule.objects.filter(user=token.user, encrypt=True).exclude(passphrase="").first()
        options = {"encrypt": "saved" if schedule else "plain", "api_token": token.prefix}
        job = job_start(user=token.user, kind=Job.Kind.BACKUP_CREATE, phase=Job.Phase.RUN, options=options)
        job.refresh_from_db()
        data = JobOut(**_job_data(job)).model_dump(mode="json")
        return record(Reply(202, data, {"Location": data["url"]}))

    return idempotent(request, token, start)


@api.get("/jobs/{job_id}", response={200: JobOut, **_ERRORS}, tags=["backups"], summary="A job", url_name="job")
def job_get(request: HttpRequest, job_id: int):
    """A backup job of the token's owner: its state, what it said, and its report once done. Needs backups:run."""
    token = _scope(request, Scope.BACKUPS_RUN)
    job = Job.objects.filter(pk=job_id, user_id=token.user_id, kind=Job.Kind.BACKUP_CREATE).first()
    if job is None:
        raise ApiError(404, f"There is no backup job {job_id} of this token's owner.")
    return _job_data(job)


# --- the interactive docs ------------------------------------------------------------------------


@staff_member_required
def docs_page(request: HttpRequest) -> HttpResponse:
    """Swagger UI, from PlugTrack's own static files (ninja's), under the site's Content-Security-Policy."""
    return api.docs.render_page(request, api)

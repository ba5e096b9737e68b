"""Idempotency-Key, as Stripe's API has it: every POST carries one, and the same key from the same token

- with the same request (method, path and body, byte for byte) gets the first answer again, byte for byte,
  with `Idempotent-Replayed: true`, and nothing is done twice;
- with another request is refused (422): a key names one request;
- while the first is still being answered is refused (409): retry in a moment.

A key is claimed by inserting its row, which the unique constraint on (token, key) lets only one request
do, committed before the work starts (so that a second request sees it at once). The answer is recorded
on it by the work, in the transaction that writes (a POSTed session and its key's answer are committed
together or not at all). Answers to requests refused before the work (a bad token, a body that is not a
session, a busy account) are not recorded: the same key may be sent again. A claim whose request died
with its worker is taken over after IN_FLIGHT_ABANDONED. Keys are kept KEPT (24 hours): expired ones are
swept as each POST claims its own, by one indexed DELETE, so no worker task is needed.
"""

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .errors import CONTENT_TYPE, ApiError, json_response
from .models import ApiToken, IdempotencyKey

logger = logging.getLogger("plugtrack.api")

HEADER = "Idempotency-Key"
KEPT = dt.timedelta(hours=24)
IN_FLIGHT_ABANDONED = dt.timedelta(minutes=5)  # well past a request's longest life (gunicorn's 90 s timeout)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII without spaces, as Stripe's: up to 255 characters


@dataclass
class Reply:
    """An answer to record and send: its status, its JSON, and headers to send again with it (Location)."""

    status: int
    data: dict
    headers: dict[str, str] = field(default_factory=dict)


Record = Callable[[Reply], HttpResponse]  # records a reply on the claimed key, and gives it as a response


def idempotent(request: HttpRequest, token: ApiToken, work: Callable[[Record], HttpResponse]) -> HttpResponse:
    """Answer the POST `request` of `token` with `work`, once per Idempotency-Key (see the module's description).
    `work` is given `record`, with which it turns each reply into the response (recording it on the key)."""
    key = request.headers.get(HEADER, "")
    if not _KEY.fullmatch(key):
        raise ApiError(
            400, f"Every POST needs an {HEADER} header: up to 255 printable characters without spaces, the same "
            "when the same request is sent again (e.g. the time the charge ended), so that it is done once.",
        )  # fmt: skip
    fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(), request.body])).hexdigest()
    claim = _claimed(token, key, fingerprint)
    if claim.status == IdempotencyKey.Status.DONE:
        response = HttpResponse(
            claim.response_body.encode(), status=claim.response_status, content_type=CONTENT_TYPE
        )
        for name, value in claim.response_headers.items():
            response[name] = value
        response["Idempotent-Replayed"] = "true"
        return response

    def record(reply: Reply) -> HttpResponse:
        response = json_response(reply.status, reply.data, reply.headers)
        IdempotencyKey.objects.filter(pk=claim.pk).update(
            status=IdempotencyKey.Status.DONE, response_status=reply.status,
            response_body=response.content.decode(), response_headers=reply.headers,
        )  # fmt: skip
        return response

    try:
        return work(record)
    except BaseException:
        _released(claim)  # nothing was done: the same request may come again
        raise


def _claimed(token: ApiToken, key: str, fingerprint: str) -> IdempotencyKey:
    """The key's row: claimed now (in flight), taken over from a request that died, or answered already."""
    for _attempt in range(3):  # (the row may go between the insert and the read: released, swept)
        now = timezone.now()
        try:
            with transaction.atomic():
                IdempotencyKey.objects.filter(created_at__lt=now - KEPT).delete()  # every token's expired keys
                return IdempotencyKey.objects.create(token=token, key=key, request_sha256=fingerprint, created_at=now)
        except IntegrityError:
            pass
        claim = IdempotencyKey.objects.filter(token=token, key=key).first()
        if claim is None:
            continue
        if claim.request_sha256 != fingerprint:
            raise ApiError(
                422, f"This {HEADER} was used for another request (another body, or another endpoint). A key names "
                "one request: give each new session its own key.",
            )  # fmt: skip
        if claim.status == IdempotencyKey.Status.DONE:
            return claim
        abandoned = IdempotencyKey.objects.filter(
            pk=claim.pk, status=IdempotencyKey.Status.IN_FLIGHT, created_at=claim.created_at,
            created_at__lt=now - IN_FLIGHT_ABANDONED,
        )  # fmt: skip
        if abandoned.update(created_at=now):
            return claim
        raise ApiError(
            409, f"The first request with this {HEADER} is still being answered: send it again in a moment to get "
            "its answer.", headers={"Retry-After": "1"},
        )  # fmt: skip
    raise ApiError(409, f"This {HEADER} is in use by another request at this moment: send it again in a moment.",
                   headers={"Retry-After": "1"})  # fmt: skip


def _released(claim: IdempotencyKey) -> None:
    try:
        IdempotencyKey.objects.filter(pk=claim.pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()
    except DatabaseError:  # (the database is what failed: the claim is taken over once abandoned)
        logger.warning("api_idempotency_key_not_released key_id=%s", claim.pk)

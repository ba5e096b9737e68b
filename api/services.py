"""API tokens: made (shown once), revoked, and checked when a program presents one.

A token reads `pt_<id>_<secret>`: the id, random and public, finds its row; the secret
(`secrets.token_urlsafe(32)`, 256 bits) is kept only as its SHA-256 (a secret that long needs no slow
hash: nothing can be guessed from it) and compared in constant time. A token is made only by its owner,
in the admin (password entered again) or by `manage.py api_token_create`: no API call makes one.
"""

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.errors import PlugTrackError

from .models import TOKEN_START, ApiToken

logger = logging.getLogger("plugtrack.api")

SCOPES = tuple(ApiToken.Scope.values)
MAX_EXPIRY_DAYS = 365
DEFAULT_EXPIRY_DAYS = 90
_TOKEN = re.compile(rf"{TOKEN_START}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")
# A token's last use is written at most this often (each request would otherwise be a write).
LAST_USED_EVERY = dt.timedelta(minutes=1)


class ApiTokenError(PlugTrackError):
    """A token that cannot be made or revoked as asked (a name taken, an unknown scope or car, …)."""


class TokenRefused(PlugTrackError):
    """A presented token that is not a live token of PlugTrack's: wrong, expired or revoked."""


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the whole token, pt_<id>_<secret>: shown once, never stored


def api_token_create(
    *, user: User, name: str, scopes: Iterable[str], car_ids: Iterable[int] = (),
    expires_days: int = DEFAULT_EXPIRY_DAYS,
) -> NewToken:  # fmt: skip
    """A new token of `user`'s: `scopes` (a non-empty part of SCOPES), on `car_ids` (of `user`'s cars; none:
    all of them), expiring in `expires_days` (1 to 365). The token itself is in the result, and nowhere else."""
    name, scopes, car_ids = name.strip(), list(dict.fromkeys(scopes)), sorted(set(car_ids))
    if not name or len(name) > 80:
        raise ApiTokenError("Give the token a name of 1 to 80 characters, saying what uses it (e.g. Home Assistant).")
    if unknown := [scope for scope in scopes if scope not in SCOPES]:
        raise ApiTokenError(f"Unknown scope(s): {', '.join(unknown)}. The scopes are: {', '.join(SCOPES)}.")
    if not scopes:
        raise ApiTokenError(f"Give the token at least one scope: {', '.join(SCOPES)}.")
    if not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise ApiTokenError(f"A token expires in 1 to {MAX_EXPIRY_DAYS} days; {expires_days} is not.")
    cars = list(Car.objects.filter(user=user, pk__in=car_ids))
    if missing := sorted(set(car_ids) - {car.pk for car in cars}):
        own = ", ".join(f'{car.pk} = "{car}"' for car in Car.objects.filter(user=user)) or "none yet"
        raise ApiTokenError(f"{user} has no car {', '.join(map(str, missing))}. Their cars: {own}.")
    secret = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            if ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).exists():
                raise ApiTokenError(f"{user} has a token named “{name}” already: give another name, or revoke it.")
            token = ApiToken.objects.create(
                user=user, name=name, prefix=secrets.token_hex(6), secret_sha256=_sha256(secret), scopes=scopes,
                expires_at=timezone.now() + dt.timedelta(days=expires_days),
            )  # fmt: skip
            token.cars.set(cars)
    except IntegrityError:  # the same name made at the same moment elsewhere (or, once in 2^48, the same id)
        raise ApiTokenError(f"A token named “{name}” was made at the same moment: try again.") from None
    logger.info("api_token_created user=%s prefix=%s scopes=%s", user.username, token.prefix, ",".join(scopes))
    return NewToken(token=token, secret=f"{token.public_part}{secret}")


def api_token_find(*, user: User, name: str | None = None, id_part: str | None = None) -> ApiToken:
    """`user`'s live token by its name, or by its id (`pt_<id>_`, or the id alone); any of theirs by its id."""
    tokens = ApiToken.objects.filter(user=user)
    if id_part:
        token = tokens.filter(prefix=id_part.removeprefix(f"{TOKEN_START}_").strip("_")).first()
    else:
        token = tokens.filter(name=(name or "").strip(), revoked_at__isnull=True).first()
    if token is None:
        live = ", ".join(f"“{token.name}” ({token.public_part}…)" for token in tokens.filter(revoked_at__isnull=True))
        asked = f"id {id_part}" if id_part else f"named “{name}”"
        raise ApiTokenError(f"{user} has no live token {asked}. Their live tokens: {live or 'none'}.")
    return token


def api_token_revoke(*, user: User, name: str | None = None, id_part: str | None = None) -> ApiToken:
    """Revoke `user`'s token (api_token_find): from now on it is refused (401). Revoked once."""
    token = api_token_find(user=user, name=name, id_part=id_part)
    if token.revoked_at:
        when = timezone.localtime(token.revoked_at)
        raise ApiTokenError(f"The token {token} was revoked already, on {when:%d %b %Y}.")
    api_tokens_revoke(tokens=ApiToken.objects.filter(pk=token.pk))
    token.refresh_from_db()
    return token


def api_tokens_revoke(*, tokens: QuerySet[ApiToken]) -> int:
    """Revoke those of `tokens` not revoked yet; how many."""
    revoking = list(tokens.filter(revoked_at__isnull=True).select_related("user"))
    count = ApiToken.objects.filter(pk__in=[token.pk for token in revoking]).update(revoked_at=timezone.now())
    for token in revoking:
        logger.info("api_token_revoked user=%s prefix=%s", token.user.username, token.prefix)
    return count


_NO_SUCH_TOKEN = _sha256("a token that is not there, compared all the same")


def api_token_authenticate(*, presented: str, address: str | None) -> ApiToken:
    """The live token `presented` is, with its last use noted (time and address); else TokenRefused with
    why. Whether it was revoked or expired is said only to whoever holds its secret."""
    match = _TOKEN.fullmatch(presented.strip())
    if match is None:
        raise TokenRefused(f"This is not a PlugTrack API token: they read {TOKEN_START}_<id>_<secret>.")
    prefix, secret = match.groups()
    token = ApiToken.objects.filter(prefix=prefix).select_related("user").first()
    if not hmac.compare_digest(token.secret_sha256 if token else _NO_SUCH_TOKEN, _sha256(secret)) or token is None:
        raise TokenRefused("This token is not one of PlugTrack's: check it was copied whole.")
    now = timezone.now()
    if token.revoked_at:
        raise TokenRefused(f"This token was revoked on {timezone.localtime(token.revoked_at):%d %b %Y}.")
    if token.expires_at <= now:
        raise TokenRefused(
            f"This token expired on {timezone.localtime(token.expires_at):%d %b %Y}: its owner can make a new one."
        )
    if not token.user.is_active:
        raise TokenRefused("This token's owner can no longer log in to PlugTrack.")
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_EVERY or token.last_used_from != address:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_from=address)
    return token


def token_cars(token: ApiToken) -> QuerySet[Car]:
    """The cars `token` may use: those it names, else all its owner's; its owner's only, whatever it names."""
    cars = Car.objects.filter(user_id=token.user_id)
    listed = list(token.cars.values_list("pk", flat=True))
    return cars.filter(pk__in=listed) if listed else cars

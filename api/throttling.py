"""The API's limits, counted in the cache every web worker shares (settings.CACHES: a table in the
database), so that they hold however many gunicorn workers answer:

- each token's requests a minute, writes (POST) and reads (GET) apart: PLUGTRACK_API_WRITES_PER_MINUTE
  (60) and PLUGTRACK_API_READS_PER_MINUTE (600), counted by calendar minute;
- presented tokens that fail, by client address (as plugtrack_site.security works it out for the login's
  throttling): the 10th failure within 15 minutes shuts that address out until the oldest of them is 15
  minutes old, whatever token it presents.

Each says how long to wait (Retry-After), or None. A count is read then written again (Django's cache has
no atomic increment on the database): two requests of one token at the same instant may be counted once.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache

AUTH_FAILURES_ALLOWED = 10
AUTH_FAILURE_WINDOW = 15 * 60  # seconds
RATE_WINDOW = 60


def rate_wait(*, token_id: int, writing: bool) -> int | None:
    """Count one request of the token; the seconds to wait when it is one too many this minute."""
    limit = settings.PLUGTRACK_API_WRITES_PER_MINUTE if writing else settings.PLUGTRACK_API_READS_PER_MINUTE
    now = time.time()
    window = int(now // RATE_WINDOW)
    key = f"api-rate:{token_id}:{'write' if writing else 'read'}:{window}"
    timeout = RATE_WINDOW + 5  # (gone soon after its minute)
    count = cache.get(key)
    if count is None:
        if cache.add(key, 1, timeout):
            return None
        count = cache.get(key, 0)
    if count >= limit:
        return _until((window + 1) * RATE_WINDOW, now)
    cache.set(key, count + 1, timeout)
    return None


def _failures_key(address: str | None) -> str:
    return f"api-auth-failures:{address or 'unknown'}"


def auth_failures_wait(address: str | None) -> int | None:
    """The seconds until `address` may present a token again, when it is shut out."""
    now = time.time()
    failures = [moment for moment in cache.get(_failures_key(address), []) if moment > now - AUTH_FAILURE_WINDOW]
    if len(failures) < AUTH_FAILURES_ALLOWED:
        return None
    return _until(failures[-AUTH_FAILURES_ALLOWED] + AUTH_FAILURE_WINDOW, now)


def auth_failure_count(address: str | None) -> None:
    """One more token from `address` that failed."""
    now = time.time()
    key = _failures_key(address)
    failures = [moment for moment in cache.get(key, []) if moment > now - AUTH_FAILURE_WINDOW]
    cache.set(key, [*failures, now][-AUTH_FAILURES_ALLOWED:], AUTH_FAILURE_WINDOW)


def _until(moment: float, now: float) -> int:
    return max(math.ceil(moment - now), 1)

"""Sending one signed POST: the body, its signature, and what the receiver answered.

The signature is Stripe's scheme: `PlugTrack-Signature: v1=<hex>`, the HMAC-SHA256 of
`f"{timestamp}.{body}"` under the owner's signing secret, with the timestamp (Unix seconds) in
`PlugTrack-Timestamp`, so a receiver can refuse an old message replayed. The request goes straight
to the URL's host (no proxy from the environment), waits at most TIMEOUT_SECONDS, follows no
redirect, and keeps at most EXCERPT_CHARS of what the receiver answered.
"""

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 5
EXCERPT_CHARS = 200
USER_AGENT = "PlugTrack-Webhooks/1"


def body_bytes(payload: dict) -> bytes:
    """The body as sent: compact JSON, keys sorted, ASCII only, the same bytes at every attempt."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `f"{timestamp}.{body}"` under `secret` (what follows "v1=")."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no HTTP answer at all (refused, timed out, no such host)
    error: str = ""  # why it is not a success, with the start of the body the receiver sent
    final: bool = False  # no retry can help (not an http(s) URL)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered, not followed: it could lead anywhere (another host), and urllib would
    turn the POST into a GET without its body."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def post_signed(*, url: str, payload: dict, secret: str, timestamp: int, headers: dict[str, str]) -> Answer:
    """POST `payload` to `url`, signed; what came back. Never raises for what the network or the
    receiver does."""
    if urlsplit(url).scheme not in ("http", "https"):
        return Answer(None, "The Notification URL is not an http:// or https:// address.", final=True)
    body = body_bytes(payload)
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers,
            "PlugTrack-Timestamp": str(timestamp), "PlugTrack-Signature": f"v1={signature(secret, timestamp, body)}",
        },
    )  # fmt: skip
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status, excerpt = response.status, _excerpt(response)
    except urllib.error.HTTPError as error:  # an answer, not a success (a redirect too)
        status, excerpt = error.code, _excerpt(error)
        error.close()
        if 300 <= status < 400:
            where = urlsplit(error.headers.get("Location", "")).netloc or "elsewhere"
            return Answer(status, f"HTTP {status}: a redirect (to {where}), not followed; give the final address.")
    except urllib.error.URLError as error:
        return Answer(None, _said(error.reason))
    except TimeoutError:
        return Answer(None, f"No answer within {TIMEOUT_SECONDS} s.")
    except (OSError, http.client.HTTPException, ValueError) as error:
        return Answer(None, _said(error))
    if 200 <= status < 300:
        return Answer(status)
    return Answer(status, f"HTTP {status}" + (f": {excerpt}" if excerpt else ""))


def _excerpt(response) -> str:
    try:
        start = response.read(EXCERPT_CHARS * 4)
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return ""
    return " ".join(start.decode("utf-8", "replace").split())[:EXCERPT_CHARS]


def _said(reason) -> str:
    if isinstance(reason, TimeoutError):
        return f"No answer within {TIMEOUT_SECONDS} s."
    return (str(reason) or type(reason).__name__)[:EXCERPT_CHARS]

"""Who is asking: the client address used for login throttling."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind PlugTrack's reverse proxy (BEHIND_PROXY), the one the proxy
    saw, which it appends last to X-Forwarded-For; earlier entries come from the client and could
    be forged to dodge the lockout. Otherwise the connection's own address."""
    if settings.BEHIND_PROXY and (forwarded := request.META.get("HTTP_X_FORWARDED_FOR")):
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.META.get("REMOTE_ADDR")

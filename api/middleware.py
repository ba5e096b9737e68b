"""The API's requests before any view reads them, and its answers after: a body over MAX_BODY_BYTES is
refused before it is parsed (413), by its Content-Length and again while it is read (a body sent without
one); and any refusal that is not JSON yet (an unknown address, a method a route does not take, a server
error) becomes the API's `{"message": …}`."""

from django.http import HttpRequest, HttpResponse

from .errors import json_response

MAX_BODY_BYTES = 1024 * 1024  # 1 MB: a session is a few hundred bytes
PREFIX = "/api/"
_READ_BYTES = 64 * 1024
_TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES // 1024 // 1024} MB, far more than a session: it was not read."
_SAID = {
    400: "The request is malformed.",
    403: "Forbidden.",
    404: "There is no such address in PlugTrack's API: docs/api.md lists them, /api/v1/docs shows them.",
    500: "Something went wrong in PlugTrack; the server's log says what.",
}


class ApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        if refusal := _body_read(request):
            return refusal
        return _as_json(request, self.get_response(request))


def _body_read(request: HttpRequest) -> HttpResponse | None:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return json_response(400, {"message": "The Content-Length header is not a number."})
    if declared > MAX_BODY_BYTES:
        return json_response(413, {"message": _TOO_LARGE})
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES and (chunk := request.read(_READ_BYTES)):
        body += chunk
    if len(body) > MAX_BODY_BYTES:
        return json_response(413, {"message": _TOO_LARGE})
    request._body = bytes(body)  # what request.body gives from now on, as Django's own HttpRequest.body keeps it
    return None


def _as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    if response.status_code == 405:
        message = f"This address does not take {request.method}: it takes {response.get('Allow', 'another method')}."
    else:
        message = _SAID.get(response.status_code, response.reason_phrase)
    replaced = json_response(response.status_code, {"message": message})
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            replaced[header] = response[header]
    return replaced

"""What the API answers when it refuses: a small JSON object with a message in people's words, the same
for every refusal (`{"message": "…"}`, with what else helps: the row's errors, the stored session's id)."""

import json

from django.http import HttpResponse
from ninja.renderers import JSONRenderer

CONTENT_TYPE = "application/json; charset=utf-8"
JSON_WRITTEN = {"ensure_ascii": False, "separators": (",", ":")}  # UTF-8, compact


class CompactJSON(JSONRenderer):
    """The routes' answers written as every other answer of the API (json_response)."""

    json_dumps_params = JSON_WRITTEN


class ApiError(Exception):
    """A refusal: its HTTP status, its message, and anything else the answer carries (`extra`, `headers`)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, headers or {}, extra

    def response(self) -> HttpResponse:
        return json_response(self.status, {"message": self.message, **self.extra}, self.headers)


def json_response(status: int, data: dict, headers: dict[str, str] | None = None) -> HttpResponse:
    """`data` as the API writes JSON (UTF-8, compact): the same data, the same bytes."""
    body = json.dumps(data, **JSON_WRITTEN).encode()
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response

"""A local receiver for webhooks (an http.server on 127.0.0.1 in a thread) and the docs' own
signature check (docs/webhooks.md), which the tests use on what the receiver got."""

import json
import re
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from settings_app import crypto
from settings_app.services import settings_update
from webhooks.models import SigningSecret

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def docs_verifier():
    """`plugtrack_event` exactly as docs/webhooks.md writes it."""
    [code] = [block for block in re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
              if "def plugtrack_event" in block]  # fmt: skip
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the repository's own documentation
    return namespace["plugtrack_event"]


plugtrack_event = docs_verifier()


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the server got, and the statuses it answers with, in order (then 200)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    redirect_to: str = ""

    def verified(self, secret: str, tolerance: int = 300) -> list[dict]:
        """Every event received, each checked with the docs' function (ValueError if one is not signed so)."""
        return [plugtrack_event(secret, request.headers, request.body, tolerance) for request in self.requests]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, self.headers, body))  # (names in any case, as HTTP's)
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.redirect_to)
            text = b"ok" if status < 300 else b"Internal trouble: " + b"x" * 1000
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/plugtrack"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def hooked(owner, receiver):
    """alice, with the receiver as her Notification URL."""
    settings_update(user=owner, values={"notification_url": receiver.url})
    return owner


def signing_secret_of(user) -> str:
    return crypto.decrypt(SigningSecret.objects.get(user=user).secret)

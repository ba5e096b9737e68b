"""The HTTP side of a delivery: no redirect followed, a short excerpt of an answer, a short timeout."""

import socket
import threading

from webhooks import client


def test_a_redirect_is_not_followed_and_says_where_it_pointed(receiver):
    receiver.answers = [302]
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    answer = client.post_signed(url=receiver.url, payload={"a": 1}, secret="s", timestamp=1, headers={})
    assert not answer.ok and answer.status_code == 302
    assert "a redirect (to 169.254.169.254), not followed" in answer.error
    assert len(receiver.requests) == 1  # the server it pointed to was never asked


def test_a_success_is_any_2xx_and_the_body_sent_is_compact_sorted_json(receiver):
    receiver.answers = [204]
    answer = client.post_signed(url=receiver.url, payload={"b": [1, "é"], "a": None}, secret="s", timestamp=7,
                                headers={"PlugTrack-Event": "import.finished"})  # fmt: skip
    assert answer.ok and answer.status_code == 204 and answer.error == ""
    [request] = receiver.requests
    assert request.body == b'{"a":null,"b":[1,"\\u00e9"]}'
    assert request.headers["PlugTrack-Signature"] == f"v1={client.signature('s', 7, request.body)}"
    assert request.headers["User-Agent"] == client.USER_AGENT


def test_no_server_and_a_silent_server_are_errors_not_exceptions(monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    answer = client.post_signed(url=f"http://127.0.0.1:{port}/", payload={}, secret="s", timestamp=1, headers={})
    assert answer.status_code is None and "refused" in answer.error.lower()

    monkeypatch.setattr(client, "TIMEOUT_SECONDS", 0.3)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True)
    thread.start()
    try:
        answer = client.post_signed(url=f"http://127.0.0.1:{silent.getsockname()[1]}/", payload={}, secret="s",
                                    timestamp=1, headers={})  # fmt: skip
    finally:
        thread.join(2)
        for connection, _ in accepted:
            connection.close()
        silent.close()
    assert answer.status_code is None and answer.error == "No answer within 0.3 s."


def test_only_http_and_https_are_posted_to():
    answer = client.post_signed(url="file:///etc/passwd", payload={}, secret="s", timestamp=1, headers={})
    assert answer.final and not answer.ok and "not an http:// or https:// address" in answer.error

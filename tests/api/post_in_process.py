"""POST one body to the API from a process of its own, when a line arrives on stdin (so that many start
at once); print the answer as JSON. Run by tests/api/test_idempotency.py:

    python -m tests.api.post_in_process PATH TOKEN IDEMPOTENCY_KEY BODY
"""

import json
import sys

import django

django.setup()

from django.test import Client  # noqa: E402

path, token, key, body = sys.argv[1:5]
client = Client(HTTP_HOST="localhost", REMOTE_ADDR="192.0.2.50")
print("ready", flush=True)
sys.stdin.readline()
response = client.generic(
    "POST", path, body.encode(), content_type="application/json",
    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
)  # fmt: skip
print(json.dumps({"status": response.status_code, "replayed": response.get("Idempotent-Replayed"),
                  "body": response.content.decode()}), flush=True)  # fmt: skip

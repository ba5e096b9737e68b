"""The OpenAPI 3.1 document, generated from the typed schemas, is valid; Swagger UI at /api/v1/docs is
PlugTrack's own static files (no CDN) for logged-in staff only."""

import json
import re

from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate


def _no_key_twice(pairs: list[tuple]) -> dict:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), keys  # (Swagger UI refuses such a document; json.loads keeps the last)
    return dict(pairs)


def test_the_openapi_document_is_valid_openapi_3_1_and_public(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content, object_pairs_hook=_no_key_twice)
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/sessions", "/api/v1/sessions.csv", "/api/v1/cars", "/api/v1/analytics/summary", "/api/v1/backups",
        "/api/v1/jobs/{job_id}",
    }  # fmt: skip
    assert document["components"]["securitySchemes"] == {"TokenAuth": {"type": "http", "scheme": "bearer"}}
    post = document["paths"]["/api/v1/sessions"]["post"]
    assert {"201", "409", "413", "422", "429"} <= set(post["responses"])
    assert any(parameter["name"] == "Idempotency-Key" and parameter["required"] for parameter in post["parameters"])
    schema = document["components"]["schemas"]["SessionIn"]
    assert schema["additionalProperties"] is False and "external_id" in schema["properties"]


def test_the_docs_are_for_logged_in_staff_only(client, owner):
    response = client.get("/api/v1/docs")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(User.objects.create_user("visitor"))  # logged in, not staff
    assert client.get("/api/v1/docs").status_code == 302


def test_the_docs_page_is_served_from_plugtracks_own_files_under_the_csp(owner_client):
    response = owner_client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/static/") for source in sources), sources
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page
    assert '"validatorUrl": null' in page  # (Swagger UI's badge would be fetched from its own site)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # no inline script but the settings, which is JSON (never run)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert [attrs for attrs, body in scripts if body.strip()] == [' type="application/json" id="swagger-settings"']
    for source in sources:
        assert finders.find(source.removeprefix("/static/")), source

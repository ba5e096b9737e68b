"""Each token's requests a minute, kept in the database cache that every web worker shares: one over the
limit is 429 with Retry-After, writes and reads counted apart, each token on its own."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection

from .conftest import session_json


def test_the_cache_is_a_table_of_the_database_which_the_test_database_has(db):
    assert isinstance(caches["default"], DatabaseCache)
    assert "plugtrack_cache" in connection.introspection.table_names()


@pytest.fixture
def limits(settings):
    settings.PLUGTRACK_API_READS_PER_MINUTE = 5
    settings.PLUGTRACK_API_WRITES_PER_MINUTE = 2
    return settings


def test_a_token_over_its_reads_a_minute_is_429_with_retry_after(limits, owner, niro, make_token, api_as):
    _, secret = make_token(owner)
    api = api_as(secret)
    assert [api.get("/cars").status_code for _ in range(5)] == [200] * 5
    response = api.get("/cars")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "5 reads of this minute" in response.json()["message"]
    assert api.post("/sessions", session_json(niro)).status_code == 201  # writes are counted apart


def test_a_token_over_its_writes_a_minute_is_429_and_nothing_is_written(limits, owner, niro, make_token, api_as):
    _, secret = make_token(owner)
    api = api_as(secret)
    assert api.post("/sessions", session_json(niro, odometer=1), key="a").status_code == 201
    assert api.post("/sessions", session_json(niro, odometer=2), key="b").status_code == 201
    response = api.post("/sessions", session_json(niro, odometer=3), key="c")
    assert response.status_code == 429 and "2 writes" in response.json()["message"]
    assert niro.sessions.count() == 2


def test_each_token_has_its_own_count(limits, owner, niro, make_token, api_as):
    _, first = make_token(owner, name="first")
    _, second = make_token(owner, name="second")
    for _ in range(5):
        api_as(first).get("/cars")
    assert api_as(first).get("/cars").status_code == 429
    assert api_as(second).get("/cars").status_code == 200


def test_the_count_is_in_the_shared_cache_not_in_the_process(limits, owner, niro, make_token, api_as):
    """What another web worker counted (the same table) counts here too."""
    token, secret = make_token(owner)
    api = api_as(secret)
    api.get("/cars")
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM plugtrack_cache")
        keys = [row[0] for row in cursor.fetchall()]
    assert any(f"api-rate:{token.pk}:read:" in key for key in keys)

from __future__ import annotations

import pytest
from django.test import Client

from aresbot.redis import get_redis


@pytest.mark.django_db
def test_health_answers_anonymous_callers():
    r = Client().get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_health_redis_pings_the_real_server():
    r = Client().get("/health/redis")
    assert r.status_code == 200, r.content
    assert r.json()["redis"] == "ok"
    assert isinstance(r.json()["latency_ms"], int | float)


@pytest.mark.django_db
def test_health_redis_reports_an_unreachable_server(settings):
    get_redis.cache_clear()
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    settings.REDIS_URL = "redis://:hunter2secret@127.0.0.1:1/0"
    try:
        r = Client().get("/health/redis")
    finally:
        get_redis.cache_clear()
    assert r.status_code == 503
    assert r.json()["status"] == "error"
    assert "hunter2secret" not in r.content.decode()


@pytest.mark.django_db
def test_health_is_not_cached():
    r = Client().get("/health")
    assert "no-cache" in r["Cache-Control"] or "max-age=0" in r["Cache-Control"]

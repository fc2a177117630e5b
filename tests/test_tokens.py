"""API tokens for scripts: shown once, stored hashed, scoped to their owner, revocable, expirable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import authentication
from accounts.models import ApiToken


def test_a_new_token_is_shown_once_and_stored_only_as_a_hash(alice_client, alice):
    r = alice_client.post("/api/tokens", {"name": "my script"}, format="json")
    assert r.status_code == 201
    raw = r.json()["token"]
    assert raw.startswith("ab_") and len(raw) > 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_hash, prefix FROM accounts_apitoken")
        stored_hash, prefix = cursor.fetchone()
    assert stored_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(prefix) and len(prefix) < 12
    listing = alice_client.get("/api/tokens").json()
    assert listing["count"] == 1
    assert "token" not in listing["results"][0]
    assert raw not in alice_client.get("/api/tokens").content.decode()


def test_a_token_authenticates_a_script_and_records_its_use(alice):
    token, raw = ApiToken.objects.issue(alice, "cron")
    client = APIClient()
    assert client.get("/api/strategies", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
    assert client.get("/api/strategies", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_or_expired_token_is_refused(alice_client, alice):
    token, raw = ApiToken.objects.issue(alice, "old")
    assert alice_client.delete(f"/api/tokens/{token.id}").status_code == 204
    r = APIClient().get("/api/strategies", HTTP_AUTHORIZATION=f"Token {raw}")
    assert r.status_code == 401
    token2, raw2 = ApiToken.objects.issue(alice, "short-lived", timezone.now() + timedelta(seconds=60))
    ApiToken.objects.filter(pk=token2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert APIClient().get("/api/strategies", HTTP_AUTHORIZATION=f"Token {raw2}").status_code == 401


def test_a_token_of_an_inactive_user_is_refused(alice):
    _, raw = ApiToken.objects.issue(alice, "x")
    alice.is_active = False
    alice.save()
    assert APIClient().get("/api/strategies", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 401


def test_an_expiry_in_the_past_is_refused(alice_client):
    r = alice_client.post("/api/tokens", {"name": "x", "expires_at": "2000-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 400
    assert "future" in r.json()["expires_at"][0]
    assert not ApiToken.objects.exists()


# --- last_used_at: at most one write a minute per token ----------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """`accounts.authentication.now`, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(T0)
    monkeypatch.setattr(authentication, "now", fake)
    return fake


def token_writes(queries: CaptureQueriesContext) -> int:
    table = ApiToken._meta.db_table
    return sum(1 for q in queries.captured_queries if q["sql"].startswith("UPDATE") and table in q["sql"])


def test_a_token_records_its_use_at_most_once_a_minute(alice, clock):
    token, raw = ApiToken.objects.issue(alice, "cron")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")

    assert client.get("/api/strategies").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == T0

    for seconds in (1, 30, 59):
        clock.at = T0 + timedelta(seconds=seconds)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/strategies").status_code == 200
        assert token_writes(queries) == 0, f"a write {seconds} s after the last one"
    token.refresh_from_db()
    assert token.last_used_at == T0

    clock.at = T0 + timedelta(seconds=61)
    assert client.get("/api/strategies").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == T0 + timedelta(seconds=61)


def test_requests_that_loaded_the_same_stale_token_write_its_use_once(alice, clock, monkeypatch):
    """Two requests read the token while its last use is old; the one that finishes first records the use, and
    the other, a second later, must not write again on the strength of its stale copy."""
    token, raw = ApiToken.objects.issue(alice, "cron")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=T0 - timedelta(minutes=5))
    load = ApiToken.objects.authenticate
    racing = {"done": False}

    def load_then_lose_the_race(raw_token: str) -> ApiToken | None:
        loaded = load(raw_token)  # stale: last used five minutes ago
        if not racing["done"]:
            racing["done"] = True
            assert APIClient().get("/api/strategies", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
            clock.at = T0 + timedelta(seconds=1)
        return loaded

    monkeypatch.setattr(ApiToken.objects, "authenticate", load_then_lose_the_race)
    assert APIClient().get("/api/strategies", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
    assert racing["done"]
    token.refresh_from_db()
    assert token.last_used_at == T0  # the first request's write stands; the second wrote nothing

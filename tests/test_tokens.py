"""API tokens for scripts: shown once, stored hashed, scoped to their owner, revocable, expirable."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

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

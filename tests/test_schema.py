"""The OpenAPI schema, Swagger UI from local files, the browsable API, and migrations in step with models."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.mark.django_db
def test_the_schema_generates_without_warnings():
    out, err = io.StringIO(), io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=err)
    schema = out.getvalue()
    for path in (
        "/api/accounts",
        "/api/accounts/{id}",
        "/api/strategies",
        "/api/strategies/{id}",
        "/api/trades",
        "/api/trades/stats",
        "/api/tokens",
    ):
        assert f"  {path}:" in schema, path
    assert "tokenAuth" in schema


def test_the_schema_endpoint_serves_openapi_3(alice_client):
    r = alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    assert r.json()["openapi"].startswith("3.")


def test_swagger_ui_loads_its_assets_locally_not_from_a_cdn(alice_client):
    r = alice_client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


@pytest.mark.django_db
def test_the_browsable_api_renders_for_a_signed_in_user(alice):
    client = Client()
    client.force_login(alice)
    r = client.get("/api/strategies", HTTP_ACCEPT="text/html")
    assert r.status_code == 200
    assert b"Strategy List" in r.content


@pytest.mark.django_db
def test_migrations_are_in_step_with_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)

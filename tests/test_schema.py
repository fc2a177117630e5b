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
        "/api/strategies/{id}/orders",
        "/api/strategies/{id}/positions",
        "/api/strategies/{id}/candles",
        "/api/trades/pnl",
        "/api/strategies/preview",
        "/api/exchanges",
        "/api/exchanges/{id}/markets",
        "/api/sweeps",
        "/api/sweeps/{id}",
        "/api/strategies/{id}/events",
        "/api/events",
        "/api/events/read",
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


# --- issue 9 item 20: the schema tells the truth (tests/fuzz/test_openapi_fuzz.py checks it against the server) ----


@pytest.fixture
def schema(alice_client):
    return alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def error_ref(operation, code):
    return operation["responses"][code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_every_operation_documents_the_errors_it_answers(schema):
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert error_ref(operation, "401") == "Error", where
        assert error_ref(operation, "403") == "Error", where
        if "{id}" in path:
            assert error_ref(operation, "404") == "Error", where
        if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert error_ref(operation, "400") == "BadRequest", where
        if "requestBody" in operation:
            assert {"413", "415"} <= operation["responses"].keys(), where
    paths = schema["paths"]
    assert {"409", "503"} <= paths["/api/strategies/{id}/start"]["post"]["responses"].keys()
    assert "409" in paths["/api/strategies/{id}"]["delete"]["responses"]
    assert "409" in paths["/api/accounts/{id}"]["delete"]["responses"]
    for path in (
        "/api/strategies/{id}/stop",
        "/api/strategies/{id}/status",
        "/api/strategies/running",
        "/api/workers",
        "/api/strategies/{id}/candles",
        "/api/strategies/preview",
    ):
        assert "503" in next(iter(paths[path].values()))["responses"], path
    bad_request = schema["components"]["schemas"]["BadRequest"]["oneOf"]
    assert [ref["$ref"].rsplit("/", 1)[-1] for ref in bad_request] == ["FieldErrors", "Error"]
    assert schema["components"]["schemas"]["FieldErrors"]["additionalProperties"]["items"] == {"type": "string"}


def test_nullable_fields_are_nullable(schema):
    account = schema["components"]["schemas"]["ExchangeAccount"]["properties"]
    for field in ("api_key_masked", "api_secret_masked", "passphrase_masked"):
        assert account[field]["nullable"] is True, field
    status = schema["components"]["schemas"]["StatusHash"]["properties"]
    scalars = {name: spec for name, spec in status.items() if spec.get("type") != "array"}  # lists come empty
    assert all(spec.get("nullable") for spec in scalars.values()), scalars


def test_running_and_workers_are_lists(schema):
    for path in ("/api/strategies/running", "/api/workers"):
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert body["type"] == "array", path


def test_parameters_and_fields_state_their_ranges(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/trades"]["get"]["parameters"]}
    assert (parameters["page_size"]["minimum"], parameters["page_size"]["maximum"]) == (1, 500)
    assert parameters["page"]["minimum"] == 1
    assert (parameters["strategy"]["type"], parameters["strategy"]["minimum"]) == ("integer", 1)
    [path_id] = schema["paths"]["/api/strategies/{id}"]["get"]["parameters"]
    assert (path_id["schema"]["minimum"], path_id["schema"]["maximum"]) == (1, 2**63 - 1)
    strategy = schema["components"]["schemas"]["StrategyRequest"]["properties"]
    assert (strategy["grid_levels"]["minimum"], strategy["grid_levels"]["maximum"]) == (1, 100)
    assert (strategy["max_positions"]["minimum"], strategy["max_positions"]["maximum"]) == (1, 1000)


def test_the_schema_describes_the_api_for_its_users_not_its_code(schema):
    texts = [operation.get("description", "") for _, _, operation in operations(schema)]
    texts += [component.get("description", "") for component in schema["components"]["schemas"].values()]
    leaks = [t for t in texts if any(word in t for word in ("full_clean", "services.", "viewset", "Model.clean"))]
    assert leaks == []

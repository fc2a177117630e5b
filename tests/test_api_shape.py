"""The API's shape (issue 9 item 19): times, the running list, strict query values, every error at once, the
descriptions people read, headers, the admin's section names and the HTTPS settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from django.test import Client

from strategies.models import Strategy
from tests.factories import make_paper_account, make_strategy
from tests.test_runtime_api import fake_engine
from trading.runtime import coordination as co

ROOT = Path(__file__).resolve().parent.parent
# Words of the code, not of the people using the API: none may show in a description they read.
INTERNAL_WORDS = ("full_clean", "services.", "queryset", "viewset", "one query", "strategy:running:", "Model.clean")


@pytest.fixture(autouse=True)
def _empty_redis(redis_client: redis.Redis) -> None:
    """Every test here starts and ends with the app's Redis database empty."""


def is_utc_iso(value: str) -> bool:
    return value.endswith("Z") and datetime.fromisoformat(value).utcoffset() == timedelta(0)


def test_running_status_and_workers_speak_iso_8601_utc(alice_client, alice, redis_client):
    strategy = make_strategy(alice, make_paper_account(alice))
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    fake_engine(redis_client, strategy)
    [row] = alice_client.get("/api/strategies/running").json()
    assert row["status"]["started_at"] == "2023-11-14T22:13:20.500Z"
    assert is_utc_iso(row["status"]["updated_at"])
    assert is_utc_iso(alice_client.get(f"/api/strategies/{strategy.pk}/status").json()["status"]["updated_at"])
    [node] = alice_client.get("/api/workers").json()
    assert is_utc_iso(node["strategies"][0]["updated_at"])
    assert redis_client.hget(co.RUNNING_KEY.format(id=strategy.pk), "started_at") == "1700000000.5"  # Redis: epoch


def test_running_lists_what_should_run_or_still_holds_a_lease_and_nothing_else(alice_client, alice, redis_client):
    account = make_paper_account(alice)
    wanted, stopping, leftover = (make_strategy(alice, account, name=n) for n in ("wanted", "stopping", "leftover"))
    Strategy.objects.filter(pk=wanted.pk).update(desired_state="running")
    fake_engine(redis_client, stopping)  # stopped by its owner; its engine still holds it while it cancels
    fake_engine(redis_client, leftover)
    redis_client.delete(co.LOCK_KEY.format(id=leftover.pk))  # a run that failed left its hash, and no lease
    names = [row["name"] for row in alice_client.get("/api/strategies/running").json()]
    assert names == ["stopping", "wanted"]


def test_stopping_a_strategy_no_engine_holds_removes_its_old_status(
    alice_client, alice, redis_client, django_capture_on_commit_callbacks
):
    strategy = make_strategy(alice, make_paper_account(alice))
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    fake_engine(redis_client, strategy)
    redis_client.delete(co.LOCK_KEY.format(id=strategy.pk))  # its node died
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/strategies/{strategy.pk}/stop").status_code == 200
    assert co.read_status(redis_client, strategy.pk) == {}
    assert alice_client.get(f"/api/strategies/{strategy.pk}/status").json()["status"] is None


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("post", "/api/strategies/{id}/stop?cancel_all=maybe", "cancel_all"),
        ("get", "/api/strategies?page_size=abc", "page_size"),
        ("get", "/api/strategies?page_size=0", "page_size"),
        ("get", "/api/strategies?page=first", "page"),
        ("get", "/api/accounts?is_active=maybe", "is_active"),
        ("get", "/api/accounts?testnet=2", "testnet"),
        ("get", "/api/strategies?account=1.5", "account"),
        ("get", "/api/trades?strategy=-3", "strategy"),
    ],
)
def test_unknown_query_values_are_a_400_naming_the_parameter(alice_client, alice, method, url, field):
    strategy = make_strategy(alice, make_paper_account(alice))
    r = getattr(alice_client, method)(url.format(id=strategy.pk))
    assert r.status_code == 400, r.content
    assert list(r.json()) == [field]
    assert Strategy.objects.get(pk=strategy.pk).desired_state == "stopped"


def test_validation_reports_every_failing_field_at_once(alice_client, alice):
    account = make_paper_account(alice)
    body = {
        "name": "g",
        "account": account.id,
        "symbol": "nope",
        "grid_levels": "many",
        "buy_offset_pct": "99",
        "max_positions": 0,
        "max_consecutive_losses": 3,
    }
    r = alice_client.post("/api/strategies", body, format="json")
    assert r.status_code == 400
    assert set(r.json()) == {"symbol", "grid_levels", "buy_offset_pct", "max_positions", "cooldown_minutes"}
    assert r.json()["grid_levels"] == ["A valid integer is required."]
    assert not Strategy.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/accounts",
        "/api/strategies",
        "/api/strategies/running",
        "/api/strategies/{id}/status",
        "/api/strategies/{id}/orders",
        "/api/strategies/{id}/positions",
        "/api/strategies/{id}/candles",
        "/api/trades",
        "/api/trades/stats",
        "/api/trades/pnl",
        "/api/exchanges",
        "/api/tokens",
        "/api/workers",
    ],
)
def test_the_browsable_api_describes_each_view_for_its_users(alice, url):
    strategy = make_strategy(alice, make_paper_account(alice))
    web = Client()
    web.force_login(alice)
    description = str(web.get(url.format(id=strategy.pk), HTTP_ACCEPT="text/html").context["description"])
    assert description.strip(), url
    assert not [word for word in INTERNAL_WORDS if word in description], description


@pytest.mark.django_db
def test_the_admin_names_each_section_once(alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    web = Client()
    web.force_login(alice)
    apps = web.get("/admin/").context["app_list"]
    names = [app["name"] for app in apps]
    assert len(names) == len(set(names)), names
    assert "Exchange accounts and API tokens" in names


def test_authenticated_api_answers_are_not_stored_by_caches(alice_client, alice):
    strategy = make_strategy(alice, make_paper_account(alice))
    for url in ("/api/accounts", f"/api/strategies/{strategy.pk}", "/api/strategies/running", "/api/nowhere"):
        assert "no-store" in alice_client.get(url)["Cache-Control"], url


def test_an_account_filter_answers_the_same_for_someone_elses_id_and_a_missing_one(alice_client, alice, bob):
    make_strategy(alice, make_paper_account(alice))
    bobs = make_paper_account(bob)
    make_strategy(bob, bobs)
    theirs = alice_client.get(f"/api/strategies?account={bobs.pk}")
    missing = alice_client.get("/api/strategies?account=999999")
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())
    assert missing.json()["count"] == 0


def test_https_redirect_and_hsts_behind_a_proxy(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "DJANGO_", "ENCRYPTION", "SECURE_"))}
    env.update(
        ARESBOT_ENV_FILE="",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DJANGO_SETTINGS_MODULE="aresbot.settings",
        DJANGO_SECRET_KEY="a-real-secret-key-with-enough-length-0123456789abcdef",
        ENCRYPTION_KEY="ab" * 32,
        SECURE_PROXY_SSL="true",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
    )
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment; setup_test_environment()\n"
        "web = Client()\n"
        "plain = web.get('/api/strategies', HTTP_X_FORWARDED_PROTO='http')\n"
        "print(plain.status_code, plain['Location'])\n"
        "secure = web.get('/api/strategies', HTTP_X_FORWARDED_PROTO='https')\n"
        "print(secure.status_code, secure['Strict-Transport-Security'])\n"
        "print(web.get('/health', HTTP_X_FORWARDED_PROTO='http').status_code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()[-3:]
    assert lines[0] == "301 https://testserver/api/strategies"
    assert lines[1] == "401 max-age=31536000; includeSubDomains"
    assert lines[2] != "301"  # the container's health check stays on plain HTTP


def test_the_servers_own_messages_come_in_the_language_the_web_app_asks_in(alice_client):
    chinese = alice_client.post("/api/accounts", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-CN")
    english = alice_client.post("/api/accounts", {}, content_type="application/json")

    assert chinese.json()["name"] == ["该字段是必填项。"]
    assert english.json()["name"] == ["This field is required."]

"""Start, stop, status, the running list and the worker view, through the API (Redis real; no worker needed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import redis
from rest_framework.test import APIClient

from accounts.models import ExchangeAccount
from aresbot.redis import get_redis, get_rq_redis
from strategies import services
from strategies.models import Strategy
from strategies.runtime_source import OrmStrategySource
from tests.core.harness import Harness
from tests.factories import make_account, make_order, make_paper_account, make_strategy
from tests.runtime.fakes import FakeClock
from trading.runtime import coordination as co
from trading.runtime.runner import LeasedStatusBoard


@pytest.fixture(autouse=True)
def _empty_redis(redis_client: redis.Redis) -> None:
    """Every test here starts and ends with the app's Redis database empty."""


@pytest.fixture
def grid(alice):
    return make_strategy(alice, make_paper_account(alice))


def fake_engine(client: redis.Redis, strategy: Strategy, ip: str = "10.0.0.7", host: str = "node-7") -> None:
    """What a running engine leaves in Redis: its lease, its status hash and its node's heartbeat."""
    lease = co.Lease(client, strategy.pk, f"job-{strategy.pk}", ttl_seconds=30)
    assert lease.acquire()
    lease.write_status(
        {
            "task_id": f"job-{strategy.pk}",
            "worker_ip": ip,
            "worker_hostname": host,
            "status": "running",
            "started_at": "1700000000.5",
            "current_price": "30000.01",
            "pending_buys": 3,
            "pending_sells": 1,
            "position_count": 1,
            "last_error": "",
        },
        60,
    )
    co.heartbeat(client, ip, host, ttl_seconds=60)


def queued_jobs(queue: str) -> list[str]:
    return [j.decode() if isinstance(j, bytes) else str(j) for j in get_rq_redis().lrange(f"rq:queue:{queue}", 0, -1)]


def test_start_marks_it_running_and_queues_one_run(alice_client, grid, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(f"/api/strategies/{grid.id}/start")
    assert r.status_code == 200, r.json()
    assert r.json()["desired_state"] == "running"
    jobs = queued_jobs("strategies")
    assert len(jobs) == 1
    assert jobs[0].startswith(f"strategy-{grid.id}-")


def test_starting_twice_is_a_409(alice_client, grid, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/strategies/{grid.id}/start").status_code == 200
        r = alice_client.post(f"/api/strategies/{grid.id}/start")
    assert r.status_code == 409
    assert "already running" in r.json()["detail"]
    assert len(queued_jobs("strategies")) == 1


def test_start_is_refused_with_the_reason_when_the_account_is_inactive(alice_client, grid):
    grid.account.is_active = False
    grid.account.save()
    r = alice_client.post(f"/api/strategies/{grid.id}/start")
    assert r.status_code == 400
    assert "inactive" in r.json()["account"][0]
    assert Strategy.objects.get(pk=grid.pk).desired_state == "stopped"
    assert queued_jobs("strategies") == []


def test_start_is_refused_when_the_account_has_no_credentials(alice_client, alice):
    account = make_account(alice, "b", "binance", api_key="k" * 20, api_secret="s" * 20)
    ExchangeAccount.objects.filter(pk=account.pk).update(api_secret="")
    strategy = make_strategy(alice, account)
    r = alice_client.post(f"/api/strategies/{strategy.id}/start")
    assert r.status_code == 400
    assert "no API credentials" in r.json()["account"][0]


def test_stop_is_idempotent_and_raises_the_signal(alice_client, grid, redis_client, django_capture_on_commit_callbacks):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    fake_engine(redis_client, grid)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            r = alice_client.post(f"/api/strategies/{grid.id}/stop")
        assert r.status_code == 200
        assert r.json()["desired_state"] == "stopped"
    assert co.stop_requested(redis_client, grid.pk) == "1"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/api/strategies/{grid.id}/stop?cancel_all=true")
    assert co.stop_requested(redis_client, grid.pk) == "all"
    assert queued_jobs("control") == []  # an engine holds it: the engine does the cancelling


def test_stop_without_an_engine_queues_the_cancelling_when_orders_rest(
    alice_client, grid, django_capture_on_commit_callbacks
):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/strategies/{grid.id}/stop").status_code == 200
    assert queued_jobs("control") == []  # nothing rests: nothing to do
    make_order(grid, "buy", status="open")
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/strategies/{grid.id}/stop").status_code == 200
    assert len(queued_jobs("control")) == 1


def test_status_shows_the_hash_and_the_node(alice_client, grid, redis_client):
    fake_engine(redis_client, grid)
    body = alice_client.get(f"/api/strategies/{grid.id}/status").json()
    assert body["running"] is True
    assert body["node"] == {"ip": "10.0.0.7", "hostname": "node-7"}
    status = body["status"]
    assert status["task_id"] == f"job-{grid.id}"
    assert (status["pending_buys"], status["pending_sells"], status["position_count"]) == (3, 1, 1)
    assert status["current_price"] == "30000.01"
    assert status["last_error"] is None
    assert status["started_at"] == "2023-11-14T22:13:20.500Z"  # epoch seconds in Redis, ISO 8601 UTC in JSON


def test_status_shows_why_levels_were_skipped_as_the_engine_published_it(alice_client, grid, redis_client):
    # 0.01 % of 0.5 is half of XRP/USDT's tick: level 2 rounds to level 1's price and collapses into it
    engine_status = Harness("0.5000", symbol="XRP/USDT", grid_levels=2, buy_offset_pct=Decimal("0.01")).start()
    lease = co.Lease(redis_client, grid.pk, f"job-{grid.pk}", ttl_seconds=30)
    assert lease.acquire()
    LeasedStatusBoard(lease, {"task_id": f"job-{grid.pk}"}, 60).publish(engine_status)
    status = alice_client.get(f"/api/strategies/{grid.id}/status").json()["status"]
    assert status["skipped_levels"] == [
        "level 2 at 0.4999: collapsed into level 1, the spacing 0.00005 is below the tick 0.0001"
    ]
    assert (status["paused"], status["notes"]) == ([], [])
    assert redis_client.hget(f"strategy:running:{grid.pk}", "skipped_levels") == (
        '["level 2 at 0.4999: collapsed into level 1, the spacing 0.00005 is below the tick 0.0001"]'
    )


def test_status_of_a_stopped_strategy_is_empty(alice_client, grid):
    body = alice_client.get(f"/api/strategies/{grid.id}/status").json()
    assert body == {
        "id": grid.id,
        "name": grid.name,
        "symbol": "BTC/USDT",
        "desired_state": "stopped",
        "running": False,
        "status": None,
        "node": None,
        "retry_after_error": None,
    }


def test_status_shows_a_fatal_error_while_the_supervisor_backs_off(alice_client, grid, redis_client):
    co.record_failure(redis_client, grid.pk, "binance: invalid API key")
    assert alice_client.get(f"/api/strategies/{grid.id}/status").json()["retry_after_error"] == (
        "binance: invalid API key"
    )


def test_the_running_list_takes_one_query_and_one_pipeline(
    alice_client, alice, redis_client, django_assert_max_num_queries
):
    account = make_paper_account(alice)
    strategies = [make_strategy(alice, account, name=f"g{i}") for i in range(30)]
    for s in strategies[:20]:
        Strategy.objects.filter(pk=s.pk).update(desired_state="running")
        fake_engine(redis_client, s)
    Strategy.objects.filter(pk=strategies[20].pk).update(desired_state="running")  # wanted, not yet running
    with django_assert_max_num_queries(1):
        body = alice_client.get("/api/strategies/running").json()
    assert len(body) == 21
    running = [row for row in body if row["running"]]
    assert len(running) == 20
    assert all(row["node"]["ip"] == "10.0.0.7" for row in running)


def test_runtime_endpoints_are_scoped_to_the_owner(bob_client, grid, redis_client):
    fake_engine(redis_client, grid)
    for method, url in (("post", "start"), ("post", "stop"), ("get", "status")):
        assert getattr(bob_client, method)(f"/api/strategies/{grid.id}/{url}").status_code == 404
    assert bob_client.get("/api/strategies/running").json() == []
    nodes = bob_client.get("/api/workers").json()
    assert [(n["ip"], n["hostname"], n["strategies"]) for n in nodes] == [("10.0.0.7", "node-7", [])]
    assert Strategy.objects.get(pk=grid.pk).desired_state == "stopped"


def test_workers_tells_when_each_node_last_reported(alice_client, redis_client):
    clock = FakeClock()  # epoch 1_700_000_000 = 2023-11-14T22:13:20Z
    co.heartbeat(redis_client, "10.0.0.7", "node-7", ttl_seconds=60, clock=clock)
    clock.advance(12.5)
    co.heartbeat(redis_client, "10.0.0.8", "node-8", ttl_seconds=60, clock=clock)
    redis_client.sadd("workers:active", "10.0.0.66")  # a node from before workers:seen: alive, time unknown
    redis_client.set("worker:heartbeat:10.0.0.66", "node-66", ex=60)

    body = alice_client.get("/api/workers").json()

    assert [(n["ip"], n["last_heartbeat_at"]) for n in body] == [
        ("10.0.0.66", None),
        ("10.0.0.7", "2023-11-14T22:13:20.000Z"),
        ("10.0.0.8", "2023-11-14T22:13:32.500Z"),
    ]
    # A node whose heartbeat expires is forgotten, its last report too.
    redis_client.delete("worker:heartbeat:10.0.0.8")
    assert [n["ip"] for n in alice_client.get("/api/workers").json()] == ["10.0.0.66", "10.0.0.7"]
    assert redis_client.hkeys("workers:seen") == ["10.0.0.7"]


def test_workers_lists_live_nodes_and_what_each_runs(alice_client, alice, grid, redis_client):
    other = make_strategy(alice, grid.account, name="second")
    fake_engine(redis_client, grid, ip="10.0.0.7", host="node-7")
    fake_engine(redis_client, other, ip="10.0.0.8", host="node-8")
    co.heartbeat(redis_client, "10.0.0.9", "node-9", ttl_seconds=60)
    redis_client.sadd("workers:active", "10.0.0.66")  # a node whose heartbeat expired
    body = alice_client.get("/api/workers").json()
    assert [n["ip"] for n in body] == ["10.0.0.7", "10.0.0.8", "10.0.0.9"]
    [entry] = body[0]["strategies"]
    assert entry == {
        "id": grid.id,
        "name": grid.name,
        "symbol": "BTC/USDT",
        "status": "running",
        "updated_at": entry["updated_at"],
    }
    assert datetime.fromisoformat(entry["updated_at"]).utcoffset() == timedelta(0)
    assert body[2]["strategies"] == []
    assert "10.0.0.66" not in redis_client.smembers("workers:active")


def test_unauthenticated_runtime_calls_are_refused(grid):
    client = APIClient()
    assert client.post(f"/api/strategies/{grid.id}/start").status_code == 401
    assert client.get("/api/strategies/running").status_code == 401
    assert client.get("/api/workers").status_code == 401


def test_admin_actions_start_and_stop(alice, grid, redis_client, django_capture_on_commit_callbacks):
    from django.test import Client

    alice.is_staff = alice.is_superuser = True
    alice.save()
    web = Client()
    web.force_login(alice)
    url = "/admin/strategies/strategy/"
    with django_capture_on_commit_callbacks(execute=True):
        r = web.post(url, {"action": "start_selected", "_selected_action": [grid.pk]}, follow=True)
    assert "Started 1 strategy" in r.content.decode()
    assert Strategy.objects.get(pk=grid.pk).desired_state == "running"
    assert len(queued_jobs("strategies")) == 1
    r = web.post(url, {"action": "start_selected", "_selected_action": [grid.pk]}, follow=True)
    assert "already running" in r.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = web.post(url, {"action": "stop_selected", "_selected_action": [grid.pk]}, follow=True)
    assert Strategy.objects.get(pk=grid.pk).desired_state == "stopped"
    assert co.stop_requested(redis_client, grid.pk) == "1"


def test_operator_commands_start_stop_and_show_a_table(grid, redis_client, django_capture_on_commit_callbacks):
    import io

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("start_strategy", grid.pk, stdout=out)
    assert "started" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("start_strategy", grid.pk, stdout=io.StringIO(), stderr=io.StringIO())
    fake_engine(redis_client, grid)
    out = io.StringIO()
    call_command("strategy_status", stdout=out)
    table = out.getvalue()
    assert grid.name in table
    assert "node-7 10.0.0.7" in table
    assert "workers:active: 10.0.0.7 (node-7)" in table
    with django_capture_on_commit_callbacks(execute=True):
        call_command("stop_strategy", grid.pk, "--cancel-all", stdout=io.StringIO())
    assert co.stop_requested(redis_client, grid.pk) == "all"
    with pytest.raises(CommandError, match="no such strategies: 999999"):
        call_command("stop_strategy", 999999, stdout=io.StringIO())


def test_the_running_list_is_kept_briefly_and_dropped_by_any_change(
    alice_client, grid, redis_client, django_capture_on_commit_callbacks, monkeypatch
):
    # A minute instead of the second it is kept for, so that a slow machine cannot let it expire mid-test.
    monkeypatch.setattr(services, "RUNNING_CACHE_SECONDS", 60)
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    fake_engine(redis_client, grid)
    first = alice_client.get("/api/strategies/running").json()
    assert first[0]["status"]["pending_buys"] == 3
    redis_client.hset(f"strategy:running:{grid.pk}", "pending_buys", "4")  # an engine's next tick
    assert alice_client.get("/api/strategies/running").json() == first  # the kept copy
    assert 0 < redis_client.pttl(f"api:running:{grid.owner_id}") <= 60_000
    redis_client.delete(f"api:running:{grid.owner_id}")  # as if the time had passed
    assert alice_client.get("/api/strategies/running").json()[0]["status"]["pending_buys"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.patch(f"/api/strategies/{grid.id}", {"name": "renamed"}, format="json")
    assert alice_client.get("/api/strategies/running").json()[0]["name"] == "renamed"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/api/strategies/{grid.id}/stop")
    assert alice_client.get("/api/strategies/running").json()[0]["desired_state"] == "stopped"


def test_each_user_has_their_own_running_list(alice_client, bob_client, grid, redis_client):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    fake_engine(redis_client, grid)
    assert len(alice_client.get("/api/strategies/running").json()) == 1
    assert bob_client.get("/api/strategies/running").json() == []


# --- Redis unreachable: 503 with a clear message, and a start or stop changes nothing or everything ---------------

RUNTIME_READS = [
    "/api/strategies/{id}/status",
    "/api/strategies/running",
    "/api/strategies/dashboard",
    "/api/workers",
]


def assert_redis_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert "Redis is unreachable" in response.json()["detail"]


def saved(strategy: Strategy) -> tuple[str, bool]:
    row = Strategy.objects.get(pk=strategy.pk)
    return row.desired_state, row.cancel_all_on_stop


@pytest.mark.parametrize("path", RUNTIME_READS)
def test_runtime_reads_answer_503_when_redis_is_at_a_closed_port(alice_client, grid, redis_at_a_closed_port, path):
    assert_redis_unavailable(alice_client.get(path.format(id=grid.id)))


def test_start_and_stop_with_redis_at_a_closed_port_change_nothing(
    alice_client, grid, redis_at_a_closed_port, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert_redis_unavailable(alice_client.post(f"/api/strategies/{grid.id}/start"))
    assert saved(grid) == ("stopped", False)

    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    with django_capture_on_commit_callbacks(execute=True) as more:
        assert_redis_unavailable(alice_client.post(f"/api/strategies/{grid.id}/stop?cancel_all=true"))
    assert saved(grid) == ("running", False)
    assert callbacks == more == []


def test_a_real_redis_that_goes_away_gets_503_and_nothing_changes_until_it_is_back(
    alice_client, grid, private_redis_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/strategies/{grid.id}/start").status_code == 200
    fake_engine(get_redis(), grid)
    assert alice_client.get(f"/api/strategies/{grid.id}/status").json()["running"] is True

    private_redis_server.stop()
    for path in RUNTIME_READS:
        assert_redis_unavailable(alice_client.get(path.format(id=grid.id)))
    with django_capture_on_commit_callbacks(execute=True):
        assert_redis_unavailable(alice_client.post(f"/api/strategies/{grid.id}/stop?cancel_all=true"))
    assert saved(grid) == ("running", False)  # the engine, if it still runs, keeps running: nobody was told
    Strategy.objects.filter(pk=grid.pk).update(desired_state="stopped")
    with django_capture_on_commit_callbacks(execute=True):
        assert_redis_unavailable(alice_client.post(f"/api/strategies/{grid.id}/start"))
    assert saved(grid) == ("stopped", False)

    private_redis_server.start()  # back, empty
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/strategies/{grid.id}/start").status_code == 200
        assert alice_client.post(f"/api/strategies/{grid.id}/stop?cancel_all=true").status_code == 200
    assert co.stop_requested(get_redis(), grid.pk) == co.StopMode.CANCEL_ALL
    assert saved(grid) == ("stopped", True)


def test_a_stop_whose_signal_is_lost_after_the_commit_is_still_carried_out_as_asked(
    alice_client, grid, private_redis_server, django_capture_on_commit_callbacks, caplog
):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        assert alice_client.post(f"/api/strategies/{grid.id}/stop?cancel_all=true").status_code == 200
    private_redis_server.stop()  # between the commit and the signal
    for callback in after_commit:
        callback()  # no exception: the request that committed the stop must not turn into an error
    assert "signal not sent" in caplog.text
    # Everything the engine needs is in the database it reads every few seconds, cancel_all included.
    assert saved(grid) == ("stopped", True)
    seen = OrmStrategySource().settings(grid.pk)
    assert seen is not None
    assert (seen.running, seen.cancel_all_on_stop) == (False, True)

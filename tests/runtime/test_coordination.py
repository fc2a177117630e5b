"""The Redis contract: leases, status hashes, stop signals and the live-worker set, against a real Redis."""

from __future__ import annotations

import time

from tests.processes import wait_until
from trading.runtime import coordination as co


def test_only_one_holder_gets_a_lease(redis_client):
    first = co.Lease(redis_client, 7, "job-a", ttl_seconds=30)
    second = co.Lease(redis_client, 7, "job-b", ttl_seconds=30)
    assert first.acquire()
    assert not second.acquire()
    assert redis_client.get("strategy:lock:7") == "job-a"
    assert 20_000 < redis_client.pttl("strategy:lock:7") <= 30_000  # 30 s, not 30 ms or 30,000 s


def test_renew_extends_only_the_holders_lease(redis_client):
    mine = co.Lease(redis_client, 7, "job-a", ttl_seconds=2)
    other = co.Lease(redis_client, 7, "job-b", ttl_seconds=60)
    assert mine.acquire()
    redis_client.pexpire("strategy:lock:7", 500)
    assert mine.renew()
    assert redis_client.pttl("strategy:lock:7") > 1000  # back to 2 s, far above the 0.5 s left
    assert not other.renew()
    assert redis_client.get("strategy:lock:7") == "job-a"


def test_a_lease_taken_by_another_job_cannot_be_renewed_or_released(redis_client):
    mine = co.Lease(redis_client, 7, "job-a", ttl_seconds=30)
    assert mine.acquire()
    redis_client.set("strategy:lock:7", "job-b")  # e.g. it expired and another worker took it
    assert not mine.renew()
    assert not mine.release()
    assert redis_client.get("strategy:lock:7") == "job-b"


def test_an_expired_lease_is_lost_and_free_for_the_next(redis_client):
    mine = co.Lease(redis_client, 7, "job-a", ttl_seconds=0.2)
    assert mine.acquire()
    wait_until(lambda: not redis_client.exists("strategy:lock:7"), 5, "the lease to expire", 0.05)
    assert not mine.renew()
    assert co.Lease(redis_client, 7, "job-b", ttl_seconds=30).acquire()


def test_release_frees_the_lease(redis_client):
    mine = co.Lease(redis_client, 7, "job-a", ttl_seconds=30)
    assert mine.acquire()
    assert mine.release()
    assert redis_client.get("strategy:lock:7") is None


def test_the_status_hash_carries_the_contract_fields_and_expires(redis_client):
    lease = co.Lease(redis_client, 9, "job-a", ttl_seconds=30, status_ttl=2)
    assert lease.acquire()
    assert lease.write_status(
        {"task_id": "job-a", "worker_ip": "10.0.0.5", "status": "running", "current_price": None}, 2
    )
    stored = redis_client.hgetall("strategy:running:9")
    assert stored["task_id"] == "job-a"
    assert stored["current_price"] == ""
    assert float(stored["updated_at"]) > time.time() - 5
    assert 0 < redis_client.ttl("strategy:running:9") <= 2
    assert co.read_status(redis_client, 9) == stored
    co.delete_status(redis_client, 9)
    assert not redis_client.exists("strategy:running:9")


def test_only_the_lease_holder_writes_the_status(redis_client):
    mine = co.Lease(redis_client, 9, "job-a", ttl_seconds=30)
    assert mine.acquire()
    redis_client.set("strategy:lock:9", "job-b")
    assert not mine.write_status({"status": "error", "last_error": "my last words"}, 30)
    assert not redis_client.exists("strategy:running:9")


def test_renewing_refreshes_the_status_pulse(redis_client):
    lease = co.Lease(redis_client, 9, "job-a", ttl_seconds=30)
    assert lease.acquire()
    lease.write_status({"status": "running"}, 30)
    redis_client.hset("strategy:running:9", "updated_at", "1.0")
    assert lease.renew()
    assert float(redis_client.hget("strategy:running:9", "updated_at")) > time.time() - 5


def test_a_stale_lease_is_broken_only_for_the_named_holder(redis_client):
    lease = co.Lease(redis_client, 9, "job-a", ttl_seconds=30)
    assert lease.acquire()
    lease.write_status({"status": "running"}, 30)
    assert not co.break_stale_lease(redis_client, 9, "job-b")
    assert co.break_stale_lease(redis_client, 9, "job-a")
    assert redis_client.get("strategy:lock:9") is None
    assert redis_client.hget("strategy:running:9", "status") == "error"
    assert not lease.renew()


def test_statuses_of_many_strategies_come_back_in_one_pipeline(redis_client):
    for sid in (1, 2, 3):
        lease = co.Lease(redis_client, sid, f"j{sid}", ttl_seconds=30)
        assert lease.acquire()
        lease.write_status({"status": "running", "task_id": f"j{sid}"}, 30)
    assert co.running_strategy_ids(redis_client) == [1, 2, 3]
    statuses = co.read_statuses(redis_client, [1, 2, 3, 4])
    assert sorted(statuses) == [1, 2, 3]
    assert statuses[2]["task_id"] == "j2"


def test_the_stop_signal_is_raised_seen_and_cleared(redis_client):
    assert co.stop_requested(redis_client, 5) is None
    co.raise_stop(redis_client, 5, ttl_seconds=60)
    assert co.stop_requested(redis_client, 5) == "1"
    co.raise_stop(redis_client, 5, ttl_seconds=60, cancel_all=True)
    assert co.stop_requested(redis_client, 5) == "all"
    co.clear_stop(redis_client, 5)
    assert co.stop_requested(redis_client, 5) is None


def test_failures_back_off_exponentially_and_clear(redis_client):
    assert co.record_failure(redis_client, 5, "bad key") == 15
    assert co.record_failure(redis_client, 5, "bad key") == 30
    assert co.backoff_error(redis_client, 5) == "bad key"
    assert 25 < redis_client.ttl("strategy:backoff:5") <= 30
    co.clear_failures(redis_client, 5)
    assert co.backoff_error(redis_client, 5) is None
    assert co.record_failure(redis_client, 5, "x") == 15


def test_a_run_is_marked_enqueued_once(redis_client):
    assert co.mark_enqueued(redis_client, 5, 60)
    assert not co.mark_enqueued(redis_client, 5, 60)
    co.clear_enqueued(redis_client, 5)
    assert co.mark_enqueued(redis_client, 5, 60)


def test_dead_workers_drop_out_of_the_active_set(redis_client):
    co.heartbeat(redis_client, "10.0.0.1", "node-a", ttl_seconds=30)
    co.heartbeat(redis_client, "10.0.0.2", "node-b", ttl_seconds=1)
    assert redis_client.smembers("workers:active") == {"10.0.0.1", "10.0.0.2"}
    wait_until(lambda: not redis_client.exists("worker:heartbeat:10.0.0.2"), 5, "node-b's heartbeat to expire", 0.05)
    assert co.active_workers(redis_client) == {"10.0.0.1": "node-a"}
    assert redis_client.smembers("workers:active") == {"10.0.0.1"}


def test_node_identity_prefers_the_configured_address():
    assert co.node_identity("192.0.2.10")[0] == "192.0.2.10"
    ip, hostname = co.node_identity()
    assert ip and hostname

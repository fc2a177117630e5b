"""Delivery by a real RQ worker (a subprocess on the `notify` queue, a private Redis, the test database) to a real
HTTP receiver on loopback: each event arrives once, and a worker killed (kill -9) while its send is in flight loses
nothing and duplicates nothing the receiver sees."""

from __future__ import annotations

import time

import pytest
from rq import Worker as RqWorker

from aresbot.redis import get_rq_redis
from notifications import outbox
from notifications.models import NotificationChannel, OutboxMessage
from tests.factories import make_paper_account, make_strategy
from tests.notifications.receiver import Receiver
from tests.notifications.test_outbox import buy, make_channel
from tests.processes import RedisServer, wait_until
from tests.runtime.cluster import Worker, worker_env
from trading.runtime.queues import NOTIFY_QUEUE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def notify_worker(private_redis_server: RedisServer):
    started: list[Worker] = []

    def spawn() -> Worker:
        worker = Worker(worker_env(private_redis_server.url), queue=NOTIFY_QUEUE, worker_class="NotifyWorker")
        started.append(worker)
        wait_until(
            lambda: any(w.pid == worker.proc.pid for w in RqWorker.all(connection=get_rq_redis())),
            30,
            "the notify worker to listen",
        )
        return worker

    yield spawn
    for worker in started:
        worker.stop()


def passes_until(done, timeout: float) -> None:
    """The cron pass, every half second, until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        outbox.notify_pass()
        time.sleep(0.5)


def test_a_worker_delivers_each_event_once_and_only_to_its_owner(alice, bob, receiver: Receiver, notify_worker):
    notify_worker()
    make_channel(alice, receiver.url, kinds=["buy_filled"])
    grid = make_strategy(alice, make_paper_account(alice))
    bobs = make_strategy(bob, make_paper_account(bob), name="bobs")
    first = [buy(grid) for _ in range(3)]
    buy(bobs)
    passes_until(lambda: len(receiver.event_ids()) >= 3, 30)
    later = [buy(grid) for _ in range(outbox.BURST + 2)]  # a burst: one digest
    passes_until(lambda: len(receiver.event_ids()) >= 3 + len(later), 30)
    for _ in range(3):
        outbox.notify_pass()
    time.sleep(1.5)
    assert receiver.event_ids() == first + later
    assert len(receiver.bodies) == 4  # three single messages, one digest
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"sent"}


def test_a_worker_killed_mid_send_loses_and_duplicates_nothing(alice, receiver: Receiver, notify_worker):
    worker = notify_worker()
    channel = make_channel(alice, receiver.url, kinds=["buy_filled"])
    grid = make_strategy(alice, make_paper_account(alice))
    ids = [buy(grid) for _ in range(3)]
    receiver.stalling = True
    outbox.notify_pass()
    wait_until(lambda: receiver.stalled >= 1, 30, "the first send to be in flight")
    worker.kill_node()
    receiver.stalling = False
    receiver.release.set()
    notify_worker()
    # the killed sender's lock runs out (SEND_LOCK_TTL), then the rows go again
    passes_until(lambda: len(receiver.event_ids()) >= 3, outbox.SEND_LOCK_TTL + 30)
    time.sleep(1.5)
    outbox.notify_pass()
    time.sleep(1.5)
    assert receiver.event_ids() == ids
    assert NotificationChannel.objects.get(pk=channel.pk).status == "ok"

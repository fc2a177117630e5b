from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.webapp import Scheduler, WebApp, collect_static, require_browser
from tests.processes import RedisServer
from tests.runtime.cluster import Worker, worker_env
from trading.runtime.queues import BACKTEST_QUEUE, CONTROL_QUEUE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives a browser against real processes: `-m e2e` picks them, `-m "not slow"` leaves them."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build and every other static file, collected once per run as a deployment collects them."""
    require_browser()
    root = tmp_path_factory.mktemp("e2e") / "static"
    collect_static(root)
    return root


@pytest.fixture
def web_apps(
    static_root: Path, transactional_db: Any, redis_client: Any, settings: Any
) -> Iterator[Callable[..., WebApp]]:
    """Starts real web servers on this test's database (and its Redis unless told another); stops them after."""
    started: list[WebApp] = []

    def start(redis_url: str | None = None, **env: str) -> WebApp:
        started.append(WebApp(static_root, redis_url or settings.REDIS_URL, **env))
        return started[-1]

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def stack(web_apps: Callable[..., WebApp], private_redis_server: RedisServer) -> Iterator[WebApp]:
    """The whole of AresBot as `bin/run` starts it, on this test's database and a Redis of its own: the web server
    on the built app, two strategy workers, a control worker, a backtest worker (the `backtests` queue: backtests,
    sweep chunks, downloads) and the scheduler (`rqcron aresbot.cron`, which runs the supervisor that starts and
    resumes engines)."""
    env = worker_env(private_redis_server.url)
    # Two strategy workers, as bin/run starts WORKER_CONCURRENCY of them: one runs a seeded grid, the other takes
    # the one the flow starts.
    processes = [
        Worker(env),
        Worker(env),
        Worker(env, queue=CONTROL_QUEUE, worker_class="ControlWorker"),
        Worker(env, queue=BACKTEST_QUEUE, worker_class="BacktestWorker"),
        Scheduler(env),
    ]
    try:
        yield web_apps(redis_url=private_redis_server.url)
    finally:
        for process in processes:
            process.stop()

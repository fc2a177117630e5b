from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.webapp import WebApp, collect_static, require_browser


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

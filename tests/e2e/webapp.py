"""End-to-end helpers: the real Django server on the built web app, and Chromium taking pictures of its pages.

`WebApp` collects the build (with everything else, as a deployment does) into a STATIC_ROOT of its own and runs
`manage.py runserver` without DEBUG on the test's database and Redis. `shoot()` drives Debian's Chromium through
playwright-core (tests/e2e/browser.mjs) and saves each page at each width and theme under var/screenshots/; it returns
what each page showed and every error its console printed. Tests for new pages add their paths to the plan.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from tests.processes import free_port, wait_until
from tests.runtime.cluster import Worker, worker_env

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "frontend" / "app"
BUILD = ROOT / "frontend" / "static" / "app"
SCREENSHOTS = Path(os.environ.get("ARESBOT_SCREENSHOTS", ROOT / "var" / "screenshots"))
BROWSER_SCRIPT = Path(__file__).with_name("browser.mjs")
WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}
THEMES = ("light", "dark")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    """Chromium, Node.js, playwright-core and a build of the app, or a skip saying what is missing (a failure in
    CI, whose .ci/run installs them and whose bin/test builds the app first)."""
    browser = chromium()
    missing = [
        what
        for what, there in (
            ("Debian's chromium (apt-get install chromium)", browser),
            ("Node.js", shutil.which("node")),
            ("playwright-core (npm ci in frontend/app)", (APP_DIR / "node_modules" / "playwright-core").is_dir()),
            ("axe-core (npm ci in frontend/app)", (APP_DIR / "node_modules" / "axe-core" / "axe.min.js").is_file()),
            ("the web app's build (npm run build in frontend/app)", (BUILD / "index.html").is_file()),
        )
        if not there
    ]
    if missing:
        message = "end-to-end tests need " + ", ".join(missing)
        if os.environ.get("ARESBOT_REQUIRE_WEB"):
            pytest.fail(message)
        pytest.skip(message)
    assert browser is not None
    return browser


def collect_static(static_root: Path) -> None:
    """collectstatic as a deployment runs it (hashed, compressed), into `static_root`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", STATIC_ROOT=str(static_root))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )


class WebApp:
    """`manage.py runserver` (DEBUG off: WhiteNoise serves the collected files) on this test's database and Redis."""

    def __init__(self, static_root: Path, redis_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = static_root.parent / f"web-{self.port}.log"
        environment = worker_env(
            redis_url, STATIC_ROOT=str(static_root), ALLOWED_HOSTS="127.0.0.1,localhost", DEBUG="false", **env
        )
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, 60, f"the web server on port {self.port}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the web server exited: {self.log.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def session_cookie(self, user: User) -> dict[str, Any]:
        """A signed-in session of `user` (in the shared database), as the browser's cookie."""
        client = Client()
        client.force_login(user)
        return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": self.url}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Scheduler(Worker):
    """`manage.py rqcron aresbot.cron`, the scheduler service, in a process group of its own like a worker."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log = open(os.environ.get("ARESBOT_TEST_WORKER_LOG", os.devnull), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "rqcron", "aresbot.cron"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass(frozen=True)
class Page:
    """A page to photograph: its name in the file name, its path, what to wait for, whether it needs a session, and
    what to do there before the picture (browser.mjs `act`: {"fill": selector, "value": …}, {"totp": selector,
    "secret": …}, {"click": selector}, {"waitFor": selector}; with "when": selector, only if that is on the page)."""

    name: str
    path: str
    wait_for: str = "main .page"
    signed_in: bool = True
    text_of: str = "main"
    steps: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Shot:
    name: str
    file: Path
    url: str
    text: str
    errors: list[str]
    # axe-core's serious and critical violations (rule, impact, help, targets, count), when the shot asked for them.
    violations: list[dict[str, Any]]


def shoot(
    app: WebApp,
    pages: Sequence[Page],
    user: User | None,
    *,
    widths: Iterable[str] = WIDTHS,
    themes: Iterable[str] = THEMES,
    locale: str = "en",
    time_zone: str = "Asia/Shanghai",
    axe: bool = False,
) -> dict[str, Shot]:
    """Every page at every width and theme, saved as var/screenshots/{page}-{width}-{theme}[-{locale}].png."""
    browser = require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if locale == "en" else f"-{locale}"
    shots = []
    for page in pages:
        for width in widths:
            for theme in themes:
                name = f"{page.name}-{width}-{theme}{suffix}"
                shots.append(
                    {
                        "name": name,
                        "file": str(SCREENSHOTS / f"{name}.png"),
                        "path": page.path,
                        "width": WIDTHS[width][0],
                        "height": WIDTHS[width][1],
                        "theme": theme,
                        "locale": locale,
                        "waitFor": page.wait_for,
                        "textOf": page.text_of,
                        "signedIn": page.signed_in,
                        "steps": list(page.steps),
                        "axe": axe,
                    }
                )
    plan = {
        "appDir": str(APP_DIR),
        "chromium": browser,
        "baseUrl": app.url,
        "timeZone": time_zone,
        "cookies": [app.session_cookie(user)] if user else [],
        "shots": shots,
    }
    plan_file = app.log.with_suffix(".plan.json")
    plan_file.write_text(json.dumps(plan))
    done = subprocess.run(
        ["node", str(BROWSER_SCRIPT), str(plan_file)], capture_output=True, text=True, timeout=60 + 30 * len(shots)
    )
    if done.returncode != 0:
        raise RuntimeError(f"the browser script failed: {done.stderr[-3000:]}")
    results = json.loads(done.stdout.strip().splitlines()[-1])["results"]
    return {
        r["name"]: Shot(r["name"], Path(r["file"]), r["url"], r["text"], r["errors"], r["violations"]) for r in results
    }

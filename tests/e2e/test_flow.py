"""Issue 10's end-to-end flow against the whole stack (web server, strategy and control workers, the scheduler,
Redis, the database), in headless Chromium: see tests/e2e/flow.mjs for the steps the pages allow today."""

from __future__ import annotations

import json
import socket
import subprocess

from strategies.services import start_strategy
from tests.e2e.webapp import APP_DIR, SCREENSHOTS, WebApp, require_browser
from tests.runtime.cluster import walking_strategy

FLOW_SCRIPT = APP_DIR.parents[1] / "tests" / "e2e" / "flow.mjs"


def test_a_trader_watches_a_running_grid_and_another_user_sees_none_of_it(stack: WebApp, alice, bob, private_redis):
    strategy = walking_strategy(alice, name="BTC walk")
    start_strategy(strategy)
    browser = require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    plan = {
        "appDir": str(APP_DIR),
        "chromium": browser,
        "baseUrl": stack.url,
        "timeZone": "Asia/Shanghai",
        "screenshots": str(SCREENSHOTS),
        "owner": {"username": "alice", "password": "alice-password"},
        "other": {"username": "bob", "password": "bob-password"},
        "strategy": strategy.name,
        "nodeHost": socket.gethostname(),
    }
    plan_file = stack.log.with_suffix(".flow.json")
    plan_file.write_text(json.dumps(plan))

    done = subprocess.run(["node", str(FLOW_SCRIPT), str(plan_file)], capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in seen, seen
    assert seen["ownerSignInUrl"].endswith("/sign-in?next=/workers")
    assert seen["ownerLanded"].endswith("/workers")
    assert "BTC walk" in seen["dashboardBefore"] and "running" in seen["dashboardBefore"]
    assert seen["dashboardAfter"] != seen["dashboardBefore"]
    assert seen["htmlLang"] == "zh-CN" and seen["darkClass"] is True
    assert "运行中" in seen["chineseText"]
    assert seen["afterSignOut"].endswith("/sign-in?next=/")
    assert "BTC walk" not in seen["otherDashboard"] and "BTC walk" not in seen["otherWorkers"]
    # The 401s that send a visitor to sign in are expected; nothing else went wrong.
    assert [e for e in seen["errors"] if "401" not in e] == []

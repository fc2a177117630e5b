"""Issue 10's end-to-end flow against the whole stack (web server, strategy and control workers, the scheduler,
Redis, the database), in headless Chromium: tests/e2e/flow.mjs takes the steps, this checks what it saw against the
database."""

from __future__ import annotations

import json
import socket
import subprocess
from decimal import Decimal

from accounts.models import ExchangeAccount
from strategies.models import Strategy
from strategies.services import start_strategy
from tests.e2e.webapp import APP_DIR, SCREENSHOTS, WebApp, require_browser
from tests.runtime.cluster import walking_strategy
from trading.api.filters import ORDER_STATUS_GROUPS

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
        # A minute's candle every 0.2 s: the tight grid below fills within seconds of starting.
        "replay": {
            "account": "Replay May 5",
            "dataset": "BTCUSDT-1m-2022-05-05",
            "symbol": "BTC/USDT",
            "speed": 300,
            "strategy": "Replay grid",
            "fields": {
                "grid_levels": "3",
                "buy_offset_pct": "0.1",
                "sell_offset_pct": "0.3",
                "order_size_quote": "50",
                "loop_interval": "0.5",
            },
        },
    }
    plan_file = stack.log.with_suffix(".flow.json")
    plan_file.write_text(json.dumps(plan))

    done = subprocess.run(["node", str(FLOW_SCRIPT), str(plan_file)], capture_output=True, text=True, timeout=420)

    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in seen, f"{seen['failed']}\n{json.dumps(seen, indent=1)[-4000:]}"
    # What the trader did through the app is what the database holds.
    account = ExchangeAccount.objects.get(owner=alice, name="Replay May 5")
    assert (account.exchange, account.price_source, account.replay_dataset) == (
        "paper",
        "replay",
        "BTCUSDT-1m-2022-05-05",
    )
    assert account.replay_speed == Decimal(300)
    assert "buy_offset_pct" not in seen["offsetError"] and "50" in seen["offsetError"], seen["offsetError"]
    assert "BTC/USDT" in seen["symbolChosen"]
    assert "39,6" in seen["preview"] or "39,7" in seen["preview"], seen["preview"]
    traded = Strategy.objects.get(owner=alice, name="Replay grid")
    assert (traded.symbol, traded.buy_offset_pct, traded.desired_state) == ("BTC/USDT", Decimal("0.1"), "stopped")
    assert seen["detailUrl"].endswith(f"/strategies/{traded.pk}")
    assert seen["pricesSeen"][0] != seen["pricesSeen"][1]
    fills = traded.fills.count()
    assert seen["chartFills"] >= 1 and fills >= 1
    # Stopped with "cancel all": nothing of it rests on the exchange, and the page says so.
    assert not traded.orders.filter(status__in=ORDER_STATUS_GROUPS["open"]).exists()
    # Both strategies' trades are on the trades page: the replay's and the seeded walk's.
    assert seen["tradeCount"] >= fills and seen["tradeRows"] >= 1
    assert seen["tradesCsv"].startswith("/api/trades") and "format=csv" in seen["tradesCsv"]
    assert seen["ownerSignInUrl"].endswith("/sign-in?next=/workers")
    assert seen["ownerLanded"].endswith("/workers")
    assert "BTC walk" in seen["dashboardBefore"] and "running" in seen["dashboardBefore"]
    assert seen["dashboardAfter"] != seen["dashboardBefore"]
    assert seen["htmlLang"] == "zh-CN" and seen["darkClass"] is True
    assert "运行中" in seen["chineseText"]
    assert seen["afterSignOut"].endswith("/sign-in?next=/")
    assert "BTC walk" not in seen["otherDashboard"] and "BTC walk" not in seen["otherWorkers"]
    # The 401s that send a visitor to sign in are expected, and the preview's 400 naming the bad offset; nothing else
    # went wrong.
    assert [e for e in seen["errors"] if "401" not in e and "400 /api/strategies/preview" not in e] == []

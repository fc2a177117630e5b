"""The backtest and sweep pages (issue 11) against the whole stack, with its backtest worker, in headless Chromium.

For each page, one test photographs it with real results (run by the stack's backtest worker on the shipped
BTC/USDT day) at both widths in both themes, with axe-core's checks, and one walks its flow through the app alone
(tests/e2e/backtest-flow.mjs). The pictures land in var/screenshots/ (README: Web app).
"""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from typing import Any

from rest_framework.test import APIClient

from strategies.models import Strategy
from tests.e2e.webapp import APP_DIR, SCREENSHOTS, Page, WebApp, require_browser, shoot
from tests.processes import wait_until
from trading.backtests.models import Backtest
from trading.sweeps.models import Sweep

FLOW_SCRIPT = APP_DIR.parents[1] / "tests" / "e2e" / "backtest-flow.mjs"
SAMPLE = "sample:BTCUSDT-1m-2022-05-05"
PARAMETERS = {
    "symbol": "BTC/USDT",
    "grid_levels": 5,
    "buy_offset_pct": "0.2",
    "sell_offset_pct": "0.3",
    "order_size_quote": "50",
    "reprice_threshold_pct": "0.5",
}
FINISHED = ("done", "failed", "cancelled")


def finished(client: APIClient, path: str) -> dict[str, Any] | None:
    answer = client.get(path).json()
    return answer if answer["status"] in FINISHED else None


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_to_done(client: APIClient, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POSTs a run to the stack (its backtest worker takes it) and waits for it to finish."""
    created = client.post(path, body, format="json")
    assert created.status_code == 202, created.content
    run = wait_until(lambda: finished(client, f"{path}/{created.json()['id']}"), timeout, path)
    assert run["status"] == "done", run["error"]
    return run


def assert_clean(shots: dict[str, Any]) -> None:
    violations = [
        f"{name}: {v['id']} ({v['impact']}) at {v['targets']}" for name, s in shots.items() for v in s.violations
    ]
    assert violations == [], "\n".join(violations)
    for shot in shots.values():
        assert shot.errors == [], (shot.name, shot.errors)
        assert shot.file.stat().st_size > 5000, shot.name


def test_the_backtest_pages_with_results_at_both_widths_in_both_themes(stack: WebApp, alice):
    backtest = run_to_done(api_as(alice), "/api/backtests", {**PARAMETERS, "dataset": SAMPLE}, 180)
    pages = [
        Page(
            "backtest",
            f"/backtests/{backtest['id']}",
            wait_for="main [data-test=backtest-result]",
            steps=(
                {"waitFor": "main [data-test=equity-chart] canvas"},
                {"waitFor": "main [data-test=backtest-price-chart] canvas"},
                {"waitFor": "main [data-test=backtest-positions]"},
            ),
        ),
        Page("backtests", "/backtests", wait_for="main [data-test=run-list]"),
    ]

    shots = shoot(stack, pages, alice, axe=True)

    assert len(shots) == len(pages) * 4
    assert_clean(shots)
    fills = backtest["summary"]["fills"]
    assert fills > 0
    for width in ("desktop", "phone"):
        text = shots[f"backtest-{width}-light"].text
        for seen in ("Backtest #", "Total PnL", "Max drawdown", "Buy and hold", "Equity curve", "Gaps in the data"):
            assert seen in text, (width, seen)
        assert re.search(rf"Fills on chart:\s*{fills}\b", text), (width, text[text.find("Fills on") :][:40])
    assert f"#{backtest['id']}" in shots["backtests-desktop-dark"].text
    chinese = shoot(stack, pages, alice, widths=["desktop"], themes=["light"], locale="zh-CN")
    assert all(shot.errors == [] for shot in chinese.values())
    for seen in ("回测 #", "总盈亏", "最大回撤", "买入持有", "权益曲线", "图上成交："):
        assert seen in chinese["backtest-desktop-light-zh-CN"].text, seen


def test_the_backtest_flow_through_the_app(stack: WebApp, alice):
    seen = walk(stack, alice, ["backtest"])

    # The form's own check named the offset and its range before anything was queued.
    assert "0.01 and 50" in seen["offsetError"], seen["offsetError"]
    backtest = Backtest.objects.get(owner=alice)
    assert seen["backtestUrl"].endswith(f"/backtests/{backtest.pk}")
    assert backtest.status == "done" and backtest.dataset_info["name"] == "BTCUSDT-1m-2022-05-05"
    assert backtest.parameters["symbol"] == "BTC/USDT" == seen["symbol"]
    assert Decimal(backtest.parameters["buy_offset_pct"]) == Decimal("0.2")
    assert backtest.summary is not None
    assert seen["chartFills"] == backtest.summary["fills"] and seen["chartFills"] > 0
    assert seen["progressSeen"] or seen["doneAtOnce"]


def test_the_sweep_pages_with_results_at_both_widths_in_both_themes(stack: WebApp, alice):
    grid = {"grid_levels": [3, 5], "buy_offset_pct": ["0.2", "0.4"], "sell_offset_pct": ["0.3", "0.6"]}
    sweep = run_to_done(api_as(alice), "/api/sweeps", {**PARAMETERS, "dataset": SAMPLE, "grid": grid}, 300)
    pages = [
        Page(
            "sweep",
            f"/sweeps/{sweep['id']}",
            wait_for="main [data-test=sweep-results]",
            steps=({"waitFor": "main [data-test=sweep-heatmap] canvas"},),
        ),
        Page("sweeps", "/sweeps", wait_for="main [data-test=run-list]"),
    ]

    shots = shoot(stack, pages, alice, axe=True)

    assert len(shots) == len(pages) * 4
    assert_clean(shots)
    best = sweep["results"][0]
    for width in ("desktop", "phone"):
        text = shots[f"sweep-{width}-light"].text
        assert "Results (8)" in text and "Heatmap" in text and "Use these settings" in text, width
        # The heatmap says what it holds the other two parameters at: the best row's values.
        assert f"fixed at the best row's: Take-profit % {best['sell_offset_pct']}" in text, width
    assert f"#{sweep['id']}" in shots["sweeps-desktop-dark"].text
    chinese = shoot(stack, pages, alice, widths=["desktop"], themes=["light"], locale="zh-CN")
    assert all(shot.errors == [] for shot in chinese.values())
    for seen in ("参数扫描 #", "热力图", "结果（8）", "使用这些参数", "其余参数固定为最佳行的取值"):
        assert seen in chinese["sweep-desktop-light-zh-CN"].text, seen


def test_the_sweep_flow_through_the_app_to_a_new_strategy(stack: WebApp, alice):
    seen = walk(stack, alice, ["sweep"])

    sweep = Sweep.objects.get(owner=alice)
    assert seen["sweepUrl"].endswith(f"/sweeps/{sweep.pk}")
    assert seen["combinations"].startswith("8 combinations"), seen["combinations"]
    assert sweep.status == "done" and seen["sweepRows"] == 8
    # The table's first row (best PnL) is the API's rank 1, and "Use these settings" carried its values into the
    # strategy form, where the user still picks the account and saves.
    top = api_as(alice).get(f"/api/sweeps/{sweep.pk}").json()["results"][0]
    assert seen["firstRank"] == "1"
    assert seen["strategyFormUrl"].split("?")[0].endswith("/strategies/new")
    prefilled = seen["prefilled"]
    assert prefilled["grid_levels"] == str(top["grid_levels"])
    assert Decimal(prefilled["buy_offset_pct"]) == Decimal(top["buy_offset_pct"])
    assert Decimal(prefilled["sell_offset_pct"]) == Decimal(top["sell_offset_pct"])
    assert prefilled["order_size_quote"] == "50"
    assert not Strategy.objects.filter(owner=alice).exists()


def walk(stack: WebApp, user, parts: list[str]) -> dict[str, Any]:
    """Runs tests/e2e/backtest-flow.mjs through `parts` of the flow and returns what it saw (no error allowed)."""
    browser = require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    plan = {
        "appDir": str(APP_DIR),
        "chromium": browser,
        "baseUrl": stack.url,
        "timeZone": "Asia/Shanghai",
        "screenshots": str(SCREENSHOTS),
        "cookies": [stack.session_cookie(user)],
        "parts": parts,
        "dataset": "BTCUSDT-1m-2022-05-05",
        "fields": {k: str(v) for k, v in PARAMETERS.items() if k != "symbol"},
        "sweep": {"grid_levels": "3, 5", "buy_offset_pct": "0.2, 0.4", "sell_offset_pct": "0.3, 0.6"},
    }
    plan_file = stack.log.with_suffix(f".{'-'.join(parts)}-flow.json")
    plan_file.write_text(json.dumps(plan))

    done = subprocess.run(["node", str(FLOW_SCRIPT), str(plan_file)], capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in seen, f"{seen['failed']}\n{json.dumps(seen, indent=1)[-4000:]}"
    assert seen["errors"] == [], seen["errors"]
    return seen

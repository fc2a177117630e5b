"""The backtest and sweep pages (issue 11) against the whole stack, with its backtest worker, in headless Chromium.

One test photographs both pages with real results (a backtest and a 2×2×2 sweep on the shipped BTC/USDT day, run by
the stack's backtest worker) at both widths in both themes, with axe-core's checks; the other walks the flow through
the app alone: a refused offset, a backtest run to done, a sweep run to done, and "Use these settings". The
pictures land in var/screenshots/ (README: Web app).
"""

from __future__ import annotations

import json
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


def test_both_pages_with_results_at_both_widths_in_both_themes(stack: WebApp, alice):
    client = APIClient()
    client.force_authenticate(alice)
    created = client.post("/api/backtests", {**PARAMETERS, "dataset": SAMPLE}, format="json")
    assert created.status_code == 202, created.content
    grid = {"grid_levels": [3, 5], "buy_offset_pct": ["0.2", "0.4"], "sell_offset_pct": ["0.3", "0.6"]}
    swept = client.post("/api/sweeps", {**PARAMETERS, "dataset": SAMPLE, "grid": grid}, format="json")
    assert swept.status_code == 202, swept.content
    backtest_id, sweep_id = created.json()["id"], swept.json()["id"]
    backtest = wait_until(lambda: finished(client, f"/api/backtests/{backtest_id}"), 180, "the backtest")
    sweep = wait_until(lambda: finished(client, f"/api/sweeps/{sweep_id}"), 300, "the sweep")
    assert backtest["status"] == "done" and sweep["status"] == "done", (backtest["error"], sweep["error"])

    pages = [
        Page(
            "backtest",
            f"/backtests/{backtest_id}",
            wait_for="main [data-test=backtest-result]",
            steps=(
                {"waitFor": "main [data-test=equity-chart] canvas"},
                {"waitFor": "main [data-test=backtest-price-chart] canvas"},
                {"waitFor": "main [data-test=backtest-positions], main [data-test=backtest-result] .el-empty"},
            ),
        ),
        Page("backtests", "/backtests", wait_for="main [data-test=run-list]"),
        Page(
            "sweep",
            f"/sweeps/{sweep_id}",
            wait_for="main [data-test=sweep-results]",
            steps=({"waitFor": "main [data-test=sweep-heatmap] canvas"},),
        ),
        Page("sweeps", "/sweeps", wait_for="main [data-test=run-list]"),
    ]
    shots = shoot(stack, pages, alice, axe=True)

    assert len(shots) == len(pages) * 4
    violations = [
        f"{name}: {v['id']} ({v['impact']}) at {v['targets']}" for name, s in shots.items() for v in s.violations
    ]
    assert violations == [], "\n".join(violations)
    for shot in shots.values():
        assert shot.errors == [], (shot.name, shot.errors)
        assert shot.file.stat().st_size > 5000, shot.name
    summary = backtest["summary"]
    for width in ("desktop", "phone"):
        text = shots[f"backtest-{width}-light"].text
        for seen in ("Backtest #", "Total PnL", "Max drawdown", "Buy and hold", "Equity curve", "Gaps in the data"):
            assert seen in text, (width, seen)
        assert f"Fills on chart:\n{summary['fills']}" in text or f"Fills on chart: {summary['fills']}" in text, (
            width,
            text[text.find("Fills on") :][:40],
        )
        sweep_text = shots[f"sweep-{width}-light"].text
        assert "Results (8)" in sweep_text and "Heatmap" in sweep_text and "Use these settings" in sweep_text, width
        assert "fixed at the best row" in sweep_text, width
    assert f"#{backtest_id}" in shots["backtests-desktop-dark"].text
    assert f"#{sweep_id}" in shots["sweeps-desktop-dark"].text


def test_a_trader_backtests_a_grid_sweeps_it_and_keeps_the_best(stack: WebApp, alice):
    browser = require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    plan = {
        "appDir": str(APP_DIR),
        "chromium": browser,
        "baseUrl": stack.url,
        "timeZone": "Asia/Shanghai",
        "screenshots": str(SCREENSHOTS),
        "cookies": [stack.session_cookie(alice)],
        "dataset": "BTCUSDT-1m-2022-05-05",
        "fields": {k: str(v) for k, v in PARAMETERS.items() if k != "symbol"},
        "sweep": {"grid_levels": "3, 5", "buy_offset_pct": "0.2, 0.4", "sell_offset_pct": "0.3, 0.6"},
    }
    plan_file = stack.log.with_suffix(".backtest-flow.json")
    plan_file.write_text(json.dumps(plan))

    done = subprocess.run(["node", str(FLOW_SCRIPT), str(plan_file)], capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in seen, f"{seen['failed']}\n{json.dumps(seen, indent=1)[-4000:]}"
    # The form's own check named the offset and its range before anything was queued.
    assert "0.01 and 50" in seen["offsetError"], seen["offsetError"]
    backtest = Backtest.objects.get(owner=alice)
    assert seen["backtestUrl"].endswith(f"/backtests/{backtest.pk}")
    assert backtest.status == "done" and backtest.dataset_info["name"] == "BTCUSDT-1m-2022-05-05"
    assert backtest.parameters["symbol"] == "BTC/USDT"
    assert Decimal(backtest.parameters["buy_offset_pct"]) == Decimal("0.2")
    assert seen["chartFills"] == backtest.summary["fills"] and seen["chartFills"] > 0
    assert seen["progressSeen"] or seen["doneAtOnce"]
    sweep = Sweep.objects.get(owner=alice)
    assert seen["sweepUrl"].endswith(f"/sweeps/{sweep.pk}")
    assert "8" in seen["combinations"], seen["combinations"]
    assert sweep.status == "done" and seen["sweepRows"] == 8
    # The table's first row (best PnL) is the API's rank 1, and "Use these settings" carried its values.
    best = APIClient()
    best.force_authenticate(alice)
    top = best.get(f"/api/sweeps/{sweep.pk}").json()["results"][0]
    assert seen["firstRank"] == "1"
    prefilled = seen["prefilled"]
    assert seen["strategyFormUrl"].split("?")[0].endswith("/strategies/new")
    assert prefilled["grid_levels"] == str(top["grid_levels"])
    assert Decimal(prefilled["buy_offset_pct"]) == Decimal(top["buy_offset_pct"])
    assert Decimal(prefilled["sell_offset_pct"]) == Decimal(top["sell_offset_pct"])
    assert prefilled["order_size_quote"] == "50"
    assert not Strategy.objects.filter(owner=alice).exists()  # the user picks the account and saves there
    assert seen["errors"] == [], seen["errors"]

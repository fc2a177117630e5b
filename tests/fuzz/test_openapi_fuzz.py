"""schemathesis against a live server of the app: the OpenAPI schema tells the truth, and no input makes a 500.

Every operation of /api/schema/ gets up to EXAMPLES generated requests (valid and invalid ones, then sequences
that create, read and delete), with every check schemathesis has, as a signed-in token user who owns an exchange
account, a strategy and a trade. The server is the real app on the test database and Redis, in this process; the
exchanges are out of reach (a transport that refuses every connection), so nothing leaves the machine.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from accounts.models import ApiToken
from exchanges.ccxt.client import use_transport
from tests.factories import make_fill, make_order, make_paper_account, make_strategy, make_user
from tests.offline import Offline
from trading.runtime.markets import markets_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = 25
SEED = 20261207
CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


def fuzz_user_token() -> str:
    user = make_user("fuzz")
    # Prices from a replayed data set: the operations that read the market (candles) answer from it, offline.
    account = make_paper_account(user, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05")
    strategy = make_strategy(user, account)
    make_fill(make_order(strategy, "buy", "30000", "0.001"))
    # Binance's markets in the cache (the recorded ones, from the suite's fake): new strategies of the fuzzer's
    # own paper accounts (live prices from Binance) have their symbol checked against them.
    markets_for("binance")
    token, raw = ApiToken.objects.issue(user, "schemathesis")
    # Far from the ids the fuzzer tries (small numbers and the bounds), so that its own DELETE /api/tokens/{id}
    # does not revoke the token it signs in with half-way through the run.
    ApiToken.objects.filter(pk=token.pk).update(id=10**12 + secrets.randbelow(10**9))
    return raw


# Some 25 examples and their sequences for each of some 40 operations, on 2 shared cores: minutes, more than the
# suite's 300 s a test.
@pytest.mark.timeout(1200)
def test_the_schema_tells_the_truth_and_no_input_is_a_server_error(live_server, redis_client, tmp_path):
    token = fuzz_user_token()
    report = tmp_path / "report.json"
    command = [
        *(str(ST), "--config-file", str(CONFIG), "--no-color", "run", f"{live_server.url}/api/schema/"),
        *("--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1"),
        *("--header", f"Authorization: Token {token}", "--report", "json", "--report-json-path", str(report)),
    ]
    with use_transport(lambda exchange_id, testnet: Offline()):
        run = subprocess.run(command, capture_output=True, text=True, timeout=1100, check=False)
    output = run.stdout[-20000:]
    assert report.exists(), output + run.stderr[-5000:]
    result = json.loads(report.read_text())
    failures = Counter({f"{f['code']} {f['title']}": f["count"] for f in result["failures"]})
    print(output)  # the whole story when it fails: each failure with a curl line to reproduce it
    assert result["operations"]["tested"] == result["operations"]["total"], output
    assert result["test_cases"]["generated"] > 25 * result["operations"]["total"], output
    assert result["test_cases"]["errored"] == 0, output
    assert not failures, output

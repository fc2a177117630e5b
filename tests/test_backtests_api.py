"""/api/backtests and /api/backtests/datasets: uploads checked whole before anything is stored, the samples and your
own data sets, backtests asked for with the strategy rules' ranges, their results read back, and nobody else's.

A backtest's run on a real worker is in tests/test_backtests_worker.py."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_paper_account, make_strategy
from trading.backtests import datasets as ds
from trading.backtests import runs
from trading.backtests.models import Backtest, BacktestChunk, BacktestDataset, DatasetChunk

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DAY = FIXTURES / "BTCUSDT-1m-2022-05-05.csv"
SAMPLE = "sample:BTCUSDT-1m-2022-05-05"
GRID = {
    "symbol": "BTC/USDT",
    "grid_levels": 5,
    "buy_offset_pct": "0.2",
    "sell_offset_pct": "0.3",
    "order_size_quote": "50",
    "reprice_threshold_pct": "0.5",
}


@pytest.fixture(autouse=True)
def own_cache(settings, tmp_path, redis_client):
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    ds.forget_cached()


def day_lines() -> list[bytes]:
    return DAY.read_bytes().splitlines(keepends=True)


def upload(client, *files: tuple[str, bytes], **fields: str):
    body = {"files": [SimpleUploadedFile(name, data, content_type="text/csv") for name, data in files], **fields}
    return client.post("/api/backtests/datasets", body, format="multipart")


def nothing_stored() -> bool:
    return not BacktestDataset.objects.exists() and not DatasetChunk.objects.exists()


# --- uploads ---------------------------------------------------------------------------------------------------------
def test_an_upload_of_two_months_in_order_is_one_data_set(alice_client):
    lines = day_lines()
    r = upload(
        alice_client,
        ("BTCUSDT-1m-2022-05-05a.csv", b"".join(lines[:700])),
        ("BTCUSDT-1m-2022-05-05b.csv", b"".join(lines[700:])),
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["source"] == "upload"
    assert body["symbol"] == "BTC/USDT"  # read from the Binance file name
    assert (body["candles"], body["interval_seconds"], body["gaps"]) == (1440, 60, 0)
    assert body["start"] == "2022-05-05T00:00:00Z" and body["end"] == "2022-05-05T23:59:00Z"
    assert body["size_bytes"] == len(DAY.read_bytes())
    loaded = ds.load_dataset(body["id"])
    sample = ds.load_dataset(SAMPLE)
    assert [loaded.candle(i) for i in (0, 699, 700, 1439)] == [sample.candle(i) for i in (0, 699, 700, 1439)]


def zipped(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return buffer.getvalue()


def test_binance_dumps_upload_zipped_as_binance_ships_them(alice_client):
    lines = day_lines()
    r = upload(
        alice_client,
        ("BTCUSDT-1m-2022-05-05a.zip", zipped("BTCUSDT-1m-2022-05-05a.csv", b"".join(lines[:700]))),
        ("BTCUSDT-1m-2022-05-05b.zip", zipped("BTCUSDT-1m-2022-05-05b.csv", b"".join(lines[700:]))),
    )
    assert r.status_code == 201, r.json()
    assert (r.json()["symbol"], r.json()["candles"]) == ("BTC/USDT", 1440)
    loaded, sample = ds.load_dataset(r.json()["id"]), ds.load_dataset(SAMPLE)
    assert [loaded.candle(i) for i in (0, 700, 1439)] == [sample.candle(i) for i in (0, 700, 1439)]


def test_a_bad_candle_inside_a_zip_is_named_by_archive_and_member(alice_client):
    lines = day_lines()
    data = zipped("month.csv", b"".join([lines[1], lines[0], *lines[2:]]))
    r = upload(alice_client, ("month.zip", data))
    assert r.status_code == 400
    assert r.json()["files"][0].startswith("month.zip/month.csv, line 2: ")
    assert nothing_stored()


def test_a_zip_that_unpacks_beyond_four_times_the_limit_or_is_broken_is_refused(alice_client, settings):
    settings.BACKTEST_UPLOAD_MAX_BYTES = 20_000
    bomb = zipped("BTCUSDT-1m-2022-05-05.csv", b"1" * 10**6)  # a megabyte in a few hundred bytes
    assert len(bomb) < 20_000
    r = upload(alice_client, ("big.zip", bomb))
    assert r.status_code == 400
    assert r.json()["files"] == ["big.zip: unpacks to more than 80000 bytes, the most one upload may hold"]
    r = upload(alice_client, ("broken.zip", b"PK\x03\x04 and then nothing an archive holds"))
    assert r.status_code == 400 and r.json()["files"][0].startswith("broken.zip: not a zip archive")
    assert nothing_stored()


def test_an_upload_names_its_symbol_when_the_file_name_does_not(alice_client):
    r = upload(alice_client, ("mine.csv", DAY.read_bytes()), symbol="eth/usdt")
    assert r.status_code == 201
    assert r.json()["symbol"] == "ETH/USDT"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda lines: [*lines[:2], b"1651708920000,39694.40,oops,39687.50,39730.00,1\n", *lines[3:]], "high 'oops'"),
        (lambda lines: [lines[1], lines[0], *lines[2:]], "unsorted"),
        (lambda lines: [lines[0], lines[0], *lines[1:]], "duplicated"),
        (lambda lines: [lines[0], b"1651708860000,39689.60,39600,39685.20,39694.40,1\n", *lines[2:]], "high is below"),
    ],
)
def test_a_bad_candle_is_refused_naming_file_line_and_reason_and_nothing_is_stored(alice_client, change, reason):
    r = upload(alice_client, ("BTCUSDT-1m-2022-05-05.csv", b"".join(change(day_lines()))))
    assert r.status_code == 400
    (message,) = r.json()["files"]
    assert message.startswith("BTCUSDT-1m-2022-05-05.csv, line ")
    assert reason in message
    assert nothing_stored()


def test_files_out_of_order_are_refused_naming_both(alice_client):
    lines = day_lines()
    r = upload(alice_client, ("late.csv", b"".join(lines[700:])), ("early.csv", b"".join(lines[:700])))
    assert r.status_code == 400
    assert "early.csv, line 1" in r.json()["files"][0] and "late.csv" in r.json()["files"][0]
    assert nothing_stored()


def test_an_upload_over_the_limit_is_refused_before_anything_is_stored(alice_client, settings):
    settings.BACKTEST_UPLOAD_MAX_BYTES = 50_000
    r = upload(alice_client, ("BTCUSDT-1m-2022-05-05.csv", DAY.read_bytes()))  # 171 KB
    assert r.status_code == 400
    assert r.json()["files"] == ["At most 50000 bytes (0.0476837 MB) of candle files in one upload."]
    assert nothing_stored()
    # Two files each under the limit, together over it: the same.
    half = b"".join(day_lines()[:300])
    r = upload(alice_client, ("a.csv", half), ("b.csv", half))
    assert r.status_code == 400 and "At most 50000 bytes" in r.json()["files"][0]
    assert nothing_stored()


def test_an_upload_of_more_files_than_the_server_takes_is_a_400_on_files(alice_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    lines = day_lines()
    r = upload(alice_client, *[(f"part{i}.csv", b"".join(lines[i * 10 : i * 10 + 10])) for i in range(4)])
    assert r.status_code == 400
    assert r.json() == {"files": ["At most 3 files in one upload."]}
    assert nothing_stored()


def test_an_upload_without_files_or_with_a_bad_symbol_is_a_400(alice_client):
    r = alice_client.post("/api/backtests/datasets", {"symbol": "BTC/USDT"}, format="multipart")
    assert r.status_code == 400 and "files" in r.json()
    r = upload(alice_client, ("x.csv", DAY.read_bytes()), symbol="BTC-USDT")
    assert r.status_code == 400 and "BASE/QUOTE" in r.json()["symbol"][0]
    assert nothing_stored()


# --- the list, and whose --------------------------------------------------------------------------------------------
def test_the_list_shows_the_samples_then_your_own_and_none_of_bobs(alice_client, bob_client):
    upload(bob_client, ("BTCUSDT-1m-2022-05-05.csv", DAY.read_bytes()))
    mine = upload(alice_client, ("BTCUSDT-1m-2022-05-05.csv", DAY.read_bytes())).json()
    rows = alice_client.get("/api/backtests/datasets").json()
    assert [row["id"] for row in rows] == [SAMPLE, "sample:ETHUSDT-1h-2021-01", mine["id"]]
    sample = rows[0]
    assert (sample["source"], sample["symbol"], sample["candles"], sample["interval_seconds"]) == (
        "sample",
        "BTC/USDT",
        1440,
        60,
    )
    assert alice_client.get(f"/api/backtests/datasets/{SAMPLE}").json()["candles"] == 1440


def test_bobs_data_sets_are_not_found_for_alice(alice_client, bob_client):
    bobs = upload(bob_client, ("BTCUSDT-1m-2022-05-05.csv", DAY.read_bytes())).json()["id"]
    assert alice_client.get(f"/api/backtests/datasets/{bobs}").status_code == 404
    assert alice_client.delete(f"/api/backtests/datasets/{bobs}").status_code == 404
    assert alice_client.get("/api/backtests/datasets/999999").status_code == 404
    assert alice_client.delete(f"/api/backtests/datasets/{SAMPLE}").status_code == 404
    r = alice_client.post("/api/backtests", {**GRID, "dataset": bobs}, format="json")
    assert r.status_code == 400
    assert r.json()["dataset"] == [f"You have no data set with id {bobs}."]
    assert BacktestDataset.objects.filter(pk=bobs).exists()


def test_a_data_set_in_use_cannot_be_deleted_until_its_backtest_ends(alice_client):
    dataset = upload(alice_client, ("BTCUSDT-1m-2022-05-05.csv", DAY.read_bytes())).json()["id"]
    backtest = alice_client.post("/api/backtests", {**GRID, "dataset": dataset}, format="json").json()
    r = alice_client.delete(f"/api/backtests/datasets/{dataset}")
    assert r.status_code == 409
    runs.cancel(backtest["id"])
    assert alice_client.delete(f"/api/backtests/datasets/{dataset}").status_code == 204
    assert not DatasetChunk.objects.exists()
    # The backtest stays, and says its data set is gone.
    assert alice_client.get(f"/api/backtests/{backtest['id']}").json()["dataset"]["id"] is None


# --- asking for a backtest --------------------------------------------------------------------------------------------
def test_a_backtest_is_queued_with_its_parameters_resolved(alice_client):
    r = alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE, "stop_loss_pct": "2"}, format="json")
    assert r.status_code == 202, r.json()
    body = r.json()
    assert body["status"] == "queued"
    assert body["parameters"] == {
        "symbol": "BTC/USDT",
        "grid_levels": 5,
        "buy_offset_pct": "0.2",
        "sell_offset_pct": "0.3",
        "order_size_quote": "50",
        "reprice_threshold_pct": "0.5",
        "max_positions": 10,
        "stop_loss_pct": "2",
        "time_stop_hours": None,
        "daily_loss_limit": None,
        "max_consecutive_losses": None,
        "cooldown_minutes": 0,
    }
    assert body["options"] == {
        "initial_quote": "10000",
        "initial_base": "0",
        "slippage_pct": "0.05",
        "fee_in_base": False,
        "maker_fee_pct": None,
        "taker_fee_pct": None,
    }
    assert body["dataset"]["id"] == SAMPLE and body["dataset"]["candles"] == 1440
    assert body["progress"] == {"done": 0, "total": 0, "eta_seconds": None}
    assert Backtest.objects.get(pk=body["id"]).job_id.startswith(f"backtest-{body['id']}-")


def test_a_strategys_parameters_are_taken_and_the_given_ones_replace_them(alice, alice_client):
    strategy = make_strategy(alice, make_paper_account(alice), grid_levels=7, stop_loss_pct=Decimal("3"))
    r = alice_client.post(
        "/api/backtests", {"strategy": strategy.pk, "dataset": SAMPLE, "sell_offset_pct": "2.5"}, format="json"
    )
    assert r.status_code == 202, r.json()
    parameters = r.json()["parameters"]
    assert (parameters["grid_levels"], parameters["stop_loss_pct"], parameters["sell_offset_pct"]) == (7, "3", "2.5")
    assert r.json()["strategy"] == strategy.pk
    # An explicit null switches a rule off.
    r = alice_client.post(
        "/api/backtests", {"strategy": strategy.pk, "dataset": SAMPLE, "stop_loss_pct": None}, format="json"
    )
    assert r.json()["parameters"]["stop_loss_pct"] is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"grid_levels": 101}, "grid_levels", "Must be between 1 and 100 levels."),
        ({"sell_offset_pct": "0"}, "sell_offset_pct", "Must be between 0.01 and 100 %."),
        ({"grid_levels": 50, "buy_offset_pct": "3"}, "buy_offset_pct", "must be below 2.0000 %"),
        ({"max_consecutive_losses": 3}, "cooldown_minutes", "Must be at least 1 minute"),
        ({"symbol": "NOPE/USDT"}, "symbol", "no market rules for NOPE/USDT"),
        ({"symbol": "ETH/USDT"}, "dataset", "It holds BTC/USDT candles"),
        ({"dataset": "sample:nope"}, "dataset", "No sample data set named 'nope'"),
        ({"dataset": "abc"}, "dataset", 'or "sample:<name>"'),
        ({"dataset": "\u00b9"}, "dataset", 'or "sample:<name>"'),  # a digit to str.isdigit, not to int
        ({"dataset": "9" * 40}, "dataset", 'or "sample:<name>"'),
        ({"initial_quote": "0"}, "initial_quote", "Must be between 0.00000001 and 1000000000000"),
        ({"slippage_pct": "11"}, "slippage_pct", "Must be between 0 and 10 %."),
        ({"taker_fee_pct": "-1"}, "taker_fee_pct", "Must be between 0 and 10 %."),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_its_range(alice_client, change, field, message):
    r = alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE, **change}, format="json")
    assert r.status_code == 400
    assert message in " ".join(r.json()[field]), r.json()
    assert not Backtest.objects.exists()


def test_without_a_strategy_the_grid_must_be_given(alice_client):
    r = alice_client.post("/api/backtests", {"dataset": SAMPLE, "grid_levels": 5}, format="json")
    assert r.status_code == 400
    # The symbol comes from the sample; the rest is missing.
    assert set(r.json()) == {"buy_offset_pct", "sell_offset_pct", "order_size_quote", "reprice_threshold_pct"}


def test_bobs_strategy_cannot_be_backtested_by_alice(alice_client, bob):
    bobs = make_strategy(bob, make_paper_account(bob))
    r = alice_client.post("/api/backtests", {"strategy": bobs.pk, "dataset": SAMPLE}, format="json")
    assert r.status_code == 400 and "does not exist" in r.json()["strategy"][0]


# --- reading one ------------------------------------------------------------------------------------------------------
@pytest.fixture
def finished(alice_client) -> dict:
    """A backtest run to its end (the job's body, in this process)."""
    body = alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json").json()
    assert runs.execute(body["id"]) == "done"
    return alice_client.get(f"/api/backtests/{body['id']}").json()


@pytest.mark.django_db(transaction=True)
def test_a_finished_backtest_shows_its_summary_curve_fills_and_lots(alice_client, finished):
    assert finished["status"] == "done"
    assert finished["progress"] == {"done": 1440, "total": 1440, "eta_seconds": None}
    summary = finished["summary"]
    assert int(summary["fills"]) > 10
    assert 500 < len(finished["equity_curve"]) <= 1000
    assert finished["equity_curve"][-1][1] == summary["equity_end"]
    assert finished["gaps"] == []
    fills = alice_client.get(f"/api/backtests/{finished['id']}/fills").json()
    assert len(fills) == summary["fills"]
    assert set(fills[0]) == {"time", "side", "role", "price", "amount", "fee", "fee_currency", "client_order_id"}
    assert fills[0]["side"] == "buy" and fills[0]["role"] == "grid_buy"
    lots = alice_client.get(f"/api/backtests/{finished['id']}/positions").json()
    assert len(lots) == summary["closed_positions"] + summary["open_positions"]
    realized = sum(Decimal(lot["pnl"]) for lot in lots if lot["pnl"] is not None)
    assert realized == Decimal(summary["realized_pnl"])
    listed = alice_client.get("/api/backtests").json()
    assert listed["count"] == 1
    assert "equity_curve" not in listed["results"][0]
    assert listed["results"][0]["summary"] == summary


@pytest.mark.django_db(transaction=True)
def test_its_candles_come_merged_into_at_most_max_bars(alice_client, finished):
    url = f"/api/backtests/{finished['id']}/candles"
    bars = alice_client.get(url, {"max": 100}).json()
    assert len(bars) == 96  # 1,440 candles, 15 a bar
    sample = ds.load_dataset(SAMPLE)
    first = [sample.candle(i) for i in range(15)]
    assert bars[0] == {
        "time": "2022-05-05T00:00:00Z",
        "open": f"{first[0].open.normalize():f}",
        "high": f"{max(c.high for c in first).normalize():f}",
        "low": f"{min(c.low for c in first).normalize():f}",
        "close": f"{first[-1].close.normalize():f}",
    }
    window = alice_client.get(url, {"from": "2022-05-05T12:00:00Z", "to": "2022-05-05T12:09:00Z"}).json()
    assert [bar["time"] for bar in window][:2] == ["2022-05-05T12:00:00Z", "2022-05-05T12:01:00Z"]
    assert len(window) == 10
    for bad in ({"max": 1}, {"max": 5001}, {"from": "yesterday"}):
        r = alice_client.get(url, bad)
        assert r.status_code == 400 and set(r.json()) <= {"max", "from"}, bad


@pytest.mark.django_db(transaction=True)
def test_a_finished_backtest_is_deleted_with_its_results(alice_client, finished):
    r = alice_client.delete(f"/api/backtests/{finished['id']}")
    assert r.status_code == 204
    assert not Backtest.objects.exists() and not BacktestChunk.objects.exists()


def test_a_queued_backtest_is_cancelled_not_deleted(alice_client):
    body = alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json").json()
    r = alice_client.delete(f"/api/backtests/{body['id']}")
    assert r.status_code == 202
    assert r.json()["status"] == "cancelled"
    assert Backtest.objects.get(pk=body["id"]).status == "cancelled"


def test_bobs_backtests_are_not_found_for_alice(alice_client, bob_client):
    bobs = bob_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json").json()["id"]
    assert alice_client.get("/api/backtests").json()["count"] == 0
    for suffix in ("", "/fills", "/positions", "/candles"):
        assert alice_client.get(f"/api/backtests/{bobs}{suffix}").status_code == 404, suffix
    assert alice_client.delete(f"/api/backtests/{bobs}").status_code == 404
    assert Backtest.objects.get(pk=bobs).status == "queued"


def test_a_running_backtest_nothing_has_written_for_minutes_is_failed(alice_client):
    from datetime import timedelta

    from django.utils import timezone

    body = alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json").json()
    long_ago = timezone.now() - runs.STALE_AFTER - timedelta(seconds=1)
    Backtest.objects.filter(pk=body["id"]).update(status="running", started_at=long_ago, updated_at=long_ago)
    shown = alice_client.get(f"/api/backtests/{body['id']}").json()
    assert shown["status"] == "failed" and shown["error"] == runs.DIED


def test_the_list_costs_the_same_queries_for_two_backtests_or_twelve(alice_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get("/api/backtests").status_code == 200
        return len(captured.captured_queries)

    for _ in range(2):
        alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json")
    few = queries()
    for _ in range(10):
        alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json")
    assert queries() == few
    assert alice_client.get("/api/backtests").json()["count"] == 12


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_backtests_and_data_sets_read_only(alice, alice_client, finished):
    from django.test import Client

    alice.is_staff = alice.is_superuser = True
    alice.save()
    dataset = upload(alice_client, ("BTCUSDT-1m-2022-05-05.csv", DAY.read_bytes())).json()["id"]
    admin = Client()
    admin.force_login(alice)
    for url in (
        "/admin/trading/backtest/",
        f"/admin/trading/backtest/{finished['id']}/change/",
        "/admin/trading/backtestdataset/",
        f"/admin/trading/backtestdataset/{dataset}/change/",
    ):
        page = admin.get(url)
        assert page.status_code == 200, url
        assert b'name="_save"' not in page.content, url  # no form to change it
    assert finished["summary"]["total_pnl"].encode() in admin.get("/admin/trading/backtest/").content
    assert admin.get("/admin/trading/backtest/add/").status_code == 403

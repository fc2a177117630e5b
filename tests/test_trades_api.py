"""Trades (fills) and their statistics, from hand-made records whose figures can be checked by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.factories import make_fill, make_order, make_paper_account, make_position, make_strategy
from trading.api import export
from trading.api.export import COLUMNS
from trading.models import Fill

D = Decimal


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def round_trip(strategy, buy: str, sell: str, amount: str, fee_rate: str, bought: datetime, sold: datetime):
    """A lot bought and sold, fees paid in quote; returns the position with its net PnL."""
    entry = make_order(strategy, "buy", buy, amount)
    exit_ = make_order(strategy, "sell", sell, amount)
    quote = strategy.symbol.split("/")[1]
    buy_fee = D(buy) * D(amount) * D(fee_rate)
    sell_fee = D(sell) * D(amount) * D(fee_rate)
    make_fill(entry, bought, fee=buy_fee, fee_currency=quote)
    make_fill(exit_, sold, fee=sell_fee, fee_currency=quote)
    pnl = (D(sell) - D(buy)) * D(amount) - buy_fee - sell_fee
    return make_position(
        entry,
        bought,
        exit_order=exit_,
        entry_fee_quote=buy_fee,
        exit_fee_quote=sell_fee,
        closed_at=sold,
        exit_price=D(sell),
        realized_pnl=pnl,
        exit_reason="take_profit" if pnl > 0 else "stop_loss",
    )


@pytest.fixture
def history(alice):
    account = make_paper_account(alice)
    btc = make_strategy(alice, account, name="btc", symbol="BTC/USDT")
    eth = make_strategy(alice, account, name="ethbtc", symbol="ETH/BTC")
    # Day 1 in Asia/Shanghai (UTC+8): 2024-03-01. 15:59 UTC is 23:59 local, still the 1st.
    round_trip(btc, "60000", "60600", "0.001", "0.001", utc(2024, 3, 1, 1, 0), utc(2024, 3, 1, 15, 59))
    # 16:00 UTC on the 1st is 00:00 on the 2nd in Shanghai: this loss belongs to 2024-03-02.
    round_trip(btc, "61000", "60000", "0.002", "0.001", utc(2024, 3, 1, 10, 0), utc(2024, 3, 1, 16, 0))
    round_trip(eth, "0.05", "0.0505", "1", "0.001", utc(2024, 3, 2, 1, 0), utc(2024, 3, 2, 2, 0))
    # An open lot: a buy fill, no exit yet.
    entry = make_order(btc, "buy", "59000", "0.001")
    make_fill(entry, utc(2024, 3, 2, 3, 0), fee=D("0.059"), fee_currency="USDT")
    make_position(entry, utc(2024, 3, 2, 3, 0))
    return btc, eth


def test_stats_add_up_by_hand(alice_client, history):
    s = alice_client.get("/api/trades/stats").json()
    assert (s["count"], s["buys"], s["sells"]) == (7, 4, 3)
    # USDT volume: 60 + 60.6 + 122 + 120 + 59 = 421.6 ; BTC volume: 0.05 + 0.0505 = 0.1005
    assert s["volume"] == {"BTC": "0.1005", "USDT": "421.6"}
    # USDT fees: 0.06 + 0.0606 + 0.122 + 0.12 + 0.059 = 0.4216 ; BTC fees: 0.00005 + 0.0000505
    assert s["fees"] == {"BTC": "0.0001005", "USDT": "0.4216"}
    # USDT PnL: (0.6 - 0.1206) + (-2 - 0.242) = 0.4794 - 2.242 = -1.7626 ; BTC: 0.0005 - 0.0001005 = 0.0003995
    assert s["realized_pnl"] == {"BTC": "0.0003995", "USDT": "-1.7626"}
    assert (s["closed_positions"], s["wins"], s["losses"]) == (3, 2, 1)
    assert s["win_rate"] == "0.6667"
    assert s["per_currency"] == [
        {
            "currency": "BTC",
            "count": 2,
            "buys": 1,
            "sells": 1,
            "volume": "0.1005",
            "fees": "0.0001005",
            "realized_pnl": "0.0003995",
            "closed_positions": 1,
            "wins": 1,
            "losses": 0,
            "win_rate": "1",
        },
        {
            "currency": "USDT",
            "count": 5,
            "buys": 3,
            "sells": 2,
            "volume": "421.6",
            "fees": "0.4216",
            "realized_pnl": "-1.7626",
            "closed_positions": 2,
            "wins": 1,
            "losses": 1,
            "win_rate": "0.5",
        },
    ]
    assert s["time_zone"] == "Asia/Shanghai"
    assert s["pnl_per_day"] == [
        {"date": "2024-03-01", "currency": "USDT", "realized_pnl": "0.4794", "closed_positions": 1},
        {"date": "2024-03-02", "currency": "BTC", "realized_pnl": "0.0003995", "closed_positions": 1},
        {"date": "2024-03-02", "currency": "USDT", "realized_pnl": "-2.242", "closed_positions": 1},
    ]


def test_stats_follow_the_filters(alice_client, history):
    _, eth = history
    s = alice_client.get(f"/api/trades/stats?strategy={eth.id}").json()
    assert s["count"] == 2
    assert s["realized_pnl"] == {"BTC": "0.0003995"}
    assert [(c["currency"], c["count"], c["realized_pnl"]) for c in s["per_currency"]] == [("BTC", 2, "0.0003995")]
    s = alice_client.get("/api/trades/stats?side=sell").json()
    assert (s["count"], s["buys"], s["sells"]) == (3, 0, 3)
    # the local day 2024-03-02 starts at 2024-03-01T16:00Z
    s = alice_client.get("/api/trades/stats?since=2024-03-02T00:00:00%2B08:00").json()
    assert s["closed_positions"] == 2
    assert s["count"] == 4  # the 16:00Z sell, the ETH/BTC round trip and the open buy
    s = alice_client.get("/api/trades/stats?until=2024-03-01T16:00:00Z").json()
    assert s["closed_positions"] == 1
    assert s["realized_pnl"] == {"USDT": "0.4794"}
    s = alice_client.get("/api/trades/stats?symbol=btc/usdt").json()
    assert s["count"] == 5


def test_empty_stats_have_no_win_rate(alice_client, alice):
    s = alice_client.get("/api/trades/stats").json()
    assert s["count"] == 0
    assert s["win_rate"] is None
    assert s["pnl_per_day"] == []


def test_trades_list_is_newest_first_filtered_and_paginated(alice_client, history, django_assert_max_num_queries):
    btc, _ = history
    # The caller's strategy ids, the count, the page from the fills alone, then the page's strategies and orders.
    with django_assert_max_num_queries(5):
        r = alice_client.get("/api/trades?page_size=3")
    body = r.json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    times = [t["executed_at"] for t in body["results"]]
    assert times == sorted(times, reverse=True)
    first = body["results"][0]
    assert first["symbol"] == "BTC/USDT"
    assert first["quote_amount"].rstrip("0").rstrip(".") == "59"
    assert alice_client.get("/api/trades?side=buy").json()["count"] == 4
    # A sale shows the PnL of the position it closed; a buy none.
    pnl = {(t["side"], t["price"].rstrip("0").rstrip(".")): t["position_pnl"] for t in body["results"]}
    assert pnl == {("buy", "59000"): None, ("sell", "0.0505"): "0.000399500000000000", ("buy", "0.05"): None}
    assert alice_client.get(f"/api/trades?strategy={btc.id}&side=sell").json()["count"] == 2
    r = alice_client.get("/api/trades?since=2024-03-02T00:00:00Z&until=2024-03-02T02:30:00Z")
    assert r.json()["count"] == 2


# --- PnL series (issue 10) -----------------------------------------------------------------------------------------


def series_of(body: dict) -> dict[str, dict]:
    return {s["currency"]: s for s in body["series"]}


def points(series: dict) -> list[tuple[str, str, int, str]]:
    return [(p["time"], p["realized_pnl"], p["closed_positions"], p["cumulative_pnl"]) for p in series["points"]]


def test_pnl_per_day_with_its_running_total_per_currency(alice_client, history):
    body = alice_client.get("/api/trades/pnl").json()
    assert (body["time_zone"], body["bucket"]) == ("Asia/Shanghai", "day")
    series = series_of(body)
    assert points(series["USDT"]) == [
        ("2024-03-01T00:00:00+08:00", "0.4794", 1, "0.4794"),
        ("2024-03-02T00:00:00+08:00", "-2.242", 1, "-1.7626"),
    ]
    assert (series["USDT"]["before"], series["USDT"]["total"]) == ("0", "-1.7626")
    assert points(series["BTC"]) == [("2024-03-02T00:00:00+08:00", "0.0003995", 1, "0.0003995")]


def test_pnl_per_hour(alice_client, history):
    series = series_of(alice_client.get("/api/trades/pnl?bucket=hour").json())
    assert points(series["USDT"]) == [
        ("2024-03-01T23:00:00+08:00", "0.4794", 1, "0.4794"),
        ("2024-03-02T00:00:00+08:00", "-2.242", 1, "-1.7626"),
    ]


def test_pnl_since_a_time_starts_from_what_was_realized_before(alice_client, history):
    series = series_of(alice_client.get("/api/trades/pnl?since=2024-03-02T00:00:00%2B08:00").json())
    assert (series["USDT"]["before"], series["USDT"]["total"]) == ("0.4794", "-1.7626")
    assert points(series["USDT"]) == [("2024-03-02T00:00:00+08:00", "-2.242", 1, "-1.7626")]


def test_pnl_of_one_strategy_and_of_nobody_elses(alice_client, bob_client, history):
    btc, eth = history
    assert list(series_of(alice_client.get(f"/api/trades/pnl?strategy={eth.pk}").json())) == ["BTC"]
    assert list(series_of(alice_client.get("/api/trades/pnl?symbol=btc/usdt").json())) == ["USDT"]
    assert bob_client.get("/api/trades/pnl").json()["series"] == []
    assert bob_client.get(f"/api/trades/pnl?strategy={btc.pk}").json()["series"] == []


def test_an_unknown_bucket_is_a_400_naming_the_allowed_ones(alice_client, alice):
    r = alice_client.get("/api/trades/pnl?bucket=week")
    assert (r.status_code, r.json()) == (400, {"bucket": ["Must be one of day, hour."]})


@pytest.fixture
def around_summer_time(alice, settings):
    """Positions closing around Berlin's clock changes of 2024: 31 March 01:00 UTC (UTC+1 → UTC+2) and 27 October
    01:00 UTC (UTC+2 → UTC+1), each a minute of PnL apart so every day can be told apart."""
    settings.TIME_ZONE = "Europe/Berlin"
    strategy = make_strategy(alice, make_paper_account(alice))
    closings = {
        "2024-03-30T22:30": "1",  # 23:30 on the 30th (UTC+1)
        "2024-03-30T23:30": "2",  # 00:30 on the 31st (UTC+1)
        "2024-03-31T21:30": "4",  # 23:30 on the 31st (UTC+2)
        "2024-03-31T22:30": "8",  # 00:30 on 1 April (UTC+2)
        "2024-10-26T21:30": "16",  # 23:30 on the 26th (UTC+2)
        "2024-10-26T22:30": "32",  # 00:30 on the 27th (UTC+2)
        "2024-10-27T22:30": "64",  # 23:30 on the 27th (UTC+1)
        "2024-10-27T23:30": "128",  # 00:30 on the 28th (UTC+1)
    }
    for when, pnl in closings.items():
        closed_at = datetime.fromisoformat(when).replace(tzinfo=UTC)
        entry, exit_ = make_order(strategy, "buy", "100", "1"), make_order(strategy, "sell", "101", "1")
        make_position(entry, closed_at, exit_order=exit_, closed_at=closed_at, realized_pnl=D(pnl))
    return strategy


EXPECTED_BERLIN_DAYS = [
    ("2024-03-30", "1"),
    ("2024-03-31", "6"),
    ("2024-04-01", "8"),
    ("2024-10-26", "16"),
    ("2024-10-27", "96"),
    ("2024-10-28", "128"),
]


def test_days_follow_summer_time_in_the_stats(alice_client, around_summer_time):
    days = alice_client.get("/api/trades/stats").json()["pnl_per_day"]
    assert [(d["date"], d["realized_pnl"]) for d in days] == EXPECTED_BERLIN_DAYS


def test_days_follow_summer_time_in_the_series(alice_client, around_summer_time):
    [usdt] = alice_client.get("/api/trades/pnl").json()["series"]
    assert [(p["time"][:10], p["realized_pnl"]) for p in usdt["points"]] == EXPECTED_BERLIN_DAYS
    # Each day starts at its own local midnight: the clocks change at 02:00 and 03:00 local time.
    offsets = [p["time"][19:] for p in usdt["points"]]
    assert offsets == ["+01:00", "+01:00", "+02:00", "+02:00", "+02:00", "+01:00"]
    # Within a range given at both ends, whose start is in summer and end in winter.
    ranged = alice_client.get("/api/trades/pnl?since=2024-10-01T00:00:00Z&until=2024-11-01T00:00:00Z").json()
    [usdt] = ranged["series"]
    assert [(p["time"][:10], p["realized_pnl"]) for p in usdt["points"]] == EXPECTED_BERLIN_DAYS[3:]
    assert usdt["before"] == "15"


def test_stats_and_series_take_a_fixed_number_of_queries(alice_client, history, django_assert_max_num_queries):
    btc, _ = history
    for i in range(30):
        round_trip(btc, "100", "101", "1", "0.001", utc(2024, 4, 1 + i % 28, 1, 0), utc(2024, 4, 1 + i % 28, 2, 0))
    # The strategies, the tallies' watermark, the tallies and the fills above it (or the fills), the span of days, and
    # one query per quote currency (USDT, BTC).
    with django_assert_max_num_queries(7):
        assert alice_client.get("/api/trades/stats").json()["closed_positions"] == 33
    with django_assert_max_num_queries(4):
        assert alice_client.get("/api/trades/pnl").status_code == 200


# --- trades as CSV (issue 10) --------------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_streams_every_matching_trade_with_a_header_and_exact_numbers(alice_client, history):
    rows = csv_rows(alice_client.get("/api/trades?format=csv"))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 1 + 7
    newest = dict(zip(rows[0], rows[1], strict=True))
    assert (newest["symbol"], newest["side"], newest["role"]) == ("BTC/USDT", "buy", "grid_buy")
    numbers = (newest["price"], newest["amount"], newest["quote_amount"], newest["fee"])
    assert numbers == ("59000", "0.001", "59", "0.059")
    assert newest["executed_at"] == "2024-03-02T11:00:00+08:00"
    assert [r[0] for r in rows[1:]] == [str(t["id"]) for t in alice_client.get("/api/trades").json()["results"]]
    sells = csv_rows(alice_client.get("/api/trades?format=csv&side=sell"))
    assert len(sells) == 1 + 3
    assert {r[5] for r in sells[1:]} == {"sell"}


def test_csv_is_not_one_page_and_reads_the_database_a_chunk_at_a_time(
    alice_client, alice, bob, monkeypatch, django_assert_num_queries
):
    strategy = make_strategy(alice, make_paper_account(alice))
    start = utc(2024, 3, 1, 0, 0)
    for i in range(120):
        # Ten trades share each second: the chunks must neither skip nor repeat trades at a chunk's edge.
        make_fill(make_order(strategy, "buy", "100", "1"), start + timedelta(seconds=i // 10))
    make_fill(make_order(make_strategy(bob, make_paper_account(bob)), "buy", "100", "1"), start)
    monkeypatch.setattr(export, "CHUNK_SIZE", 25)
    response = alice_client.get("/api/trades?format=csv&page_size=10")
    # Per chunk (25 + 25 + 25 + 25 + 20) the fills and their orders; the strategies once.
    with django_assert_num_queries(11):
        rows = csv_rows(response)
    ids = [int(r[0]) for r in rows[1:]]
    assert len(ids) == len(set(ids)) == 120
    assert ids == [t.pk for t in Fill.objects.filter(strategy=strategy).order_by("-executed_at", "-id")]


def test_a_strategy_name_cannot_become_a_spreadsheet_formula(alice_client, alice):
    strategy = make_strategy(alice, make_paper_account(alice), name="=HYPERLINK(1)")
    make_fill(make_order(strategy))
    rows = csv_rows(alice_client.get("/api/trades?format=csv"))
    assert rows[1][3] == "'=HYPERLINK(1)"


def test_csv_errors_are_told_in_json(alice_client, alice):
    r = alice_client.get("/api/trades?format=csv&side=both")
    assert (r.status_code, r["Content-Type"]) == (400, "application/json")
    assert list(r.json()) == ["side"]
    assert alice_client.get("/api/trades", HTTP_ACCEPT="text/csv").streaming
    assert list(alice_client.get("/api/trades?format=csv&page=first").json()) == ["page"]
    assert alice_client.get("/api/trades/stats?format=csv").status_code == 404


def test_a_method_the_trades_do_not_have_is_a_405_also_asking_for_csv(alice_client, alice):
    r = alice_client.generic("TRACE", "/api/trades?format=csv")
    assert (r.status_code, r["Content-Type"]) == (405, "application/json")

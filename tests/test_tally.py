"""The fills' daily tallies (trading/tally.py): the statistics give the same answer whether a pass has sealed the
fills or not, before and after more fills come, and over the whole record read the tallies instead of the fills."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from strategies.services import delete_strategy
from tests.factories import make_fill, make_order
from tests.test_trades_api import history, round_trip, utc  # noqa: F401  (history is a fixture)
from trading import tally
from trading.models import FillTally, TallyMark
from trading.stats import scope_for, trade_stats

pytestmark = pytest.mark.django_db

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FIGURES = ("count", "buys", "sells", "volume", "fees", "per_currency", "realized_pnl", "pnl_per_day")


def figures(user_id: int, **filters) -> dict:
    stats = trade_stats(scope_for(user_id, **filters))
    return {key: stats[key] for key in FIGURES}


def from_the_fills(user_id: int, **filters) -> dict:
    """The same figures read from every fill: a time range (here one that holds everything) never uses tallies."""
    return figures(user_id, since=EPOCH, **filters)


def test_the_first_pass_only_notes_where_the_fills_end_and_the_second_seals_them(alice, history):  # noqa: F811
    assert tally.seal().sealed_id == 0
    assert FillTally.objects.count() == 0
    sealed = tally.seal()

    assert sealed.sealed_id == TallyMark.objects.get().seen_id > 0
    # btc: buys and sells on 2024-03-01 (USDT), a buy on 03-02; ethbtc: a buy and a sell on 03-02 (BTC).
    assert sealed.groups == FillTally.objects.count() == 5
    assert sum(FillTally.objects.values_list("fills", flat=True)) == 7


def test_the_figures_are_the_same_sealed_or_not_and_as_more_fills_come(alice, history):  # noqa: F811
    btc, eth = history
    unsealed = figures(alice.pk)
    assert unsealed == from_the_fills(alice.pk)
    tally.seal()
    tally.seal()
    assert figures(alice.pk) == unsealed

    # More trades after the pass, one booked late with an old time (a reconcile after a crash): above the
    # watermark they are read from the fills, and a later pass moves them into the tallies.
    round_trip(btc, "62000", "62620", "0.001", "0.001", utc(2024, 3, 3, 1, 0), utc(2024, 3, 3, 2, 0))
    make_fill(make_order(eth, "buy", "0.049", "2"), utc(2024, 3, 1, 5, 0), fee=Decimal("0.0000981"), fee_currency="BTC")
    grown = figures(alice.pk)
    assert grown == from_the_fills(alice.pk)
    assert grown["count"] == unsealed["count"] + 3
    tally.seal()
    assert figures(alice.pk) == grown
    tally.seal()
    assert figures(alice.pk) == grown
    for side in ("buy", "sell"):
        assert figures(alice.pk, side=side) == from_the_fills(alice.pk, side=side)
    assert figures(alice.pk, strategy=eth.pk) == from_the_fills(alice.pk, strategy=eth.pk)
    assert figures(alice.pk, symbol="BTC/USDT") == from_the_fills(alice.pk, symbol="BTC/USDT")


def test_over_the_whole_record_the_sealed_fills_are_not_read_again(alice, history):  # noqa: F811
    tally.seal()
    tally.seal()
    with CaptureQueriesContext(connection) as queries:
        trade_stats(scope_for(alice.pk))
    fills = [q["sql"].replace('"', "`") for q in queries.captured_queries if re.search(r"trading_fill\W", q["sql"])]
    assert len(fills) == 1 and "`trading_fill`.`id` >" in fills[0], fills


def test_a_deleted_strategy_takes_its_tallies_along(alice, history):  # noqa: F811
    _, eth = history
    tally.seal()
    tally.seal()
    eth.desired_state = "stopped"
    eth.positions.all().delete()
    delete_strategy(eth)

    assert not FillTally.objects.filter(strategy_id=eth.pk).exists()
    assert figures(alice.pk) == from_the_fills(alice.pk)


def test_a_long_record_is_sealed_a_slice_at_a_time(alice, history, monkeypatch):  # noqa: F811
    before = figures(alice.pk)
    monkeypatch.setattr(tally, "MAX_IDS_PER_PASS", 3)
    tally.seal()
    seen = TallyMark.objects.get().seen_id
    marks = [0]
    while marks[-1] < seen:
        marks.append(tally.seal().sealed_id)
        assert 0 < marks[-1] - marks[-2] <= 3
        assert figures(alice.pk) == before, marks
    assert sum(FillTally.objects.values_list("fills", flat=True)) == 7

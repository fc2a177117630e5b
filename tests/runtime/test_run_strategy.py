"""manage.py run_strategy: one strategy's engine in the foreground, writing its trades to the database."""

from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from exchanges.models import PaperBookRecord
from tests.factories import make_account, make_paper_account, make_strategy
from trading.models import Fill, Order, Position
from trading.runtime.coordination import Lease

pytestmark = pytest.mark.django_db
DAY = Path(__file__).resolve().parent.parent / "fixtures" / "BTCUSDT-1m-2022-05-05.csv"


def test_it_runs_a_paper_strategy_over_a_replay_and_records_its_trades(alice):
    strategy = make_strategy(
        alice,
        make_paper_account(alice),
        grid_levels=3,
        buy_offset_pct=D("0.1"),
        sell_offset_pct=D("0.1"),
        order_size_quote=D(20),
        loop_interval=D(1),
    )
    out = StringIO()
    # --fast: one simulated second per tick; at speed 60 each tick is one candle of the day
    call_command(
        "run_strategy", strategy.pk, "--ticks", "120", "--fast", "--feed", "replay", "--replay-file", str(DAY),
        "--speed", "60", "--quiet", stdout=out,
    )  # fmt: skip
    assert "stopped after 120 ticks" in out.getvalue()
    assert Order.objects.filter(strategy=strategy, role="grid_buy").exists()
    assert Fill.objects.filter(strategy=strategy, side="buy").exists()
    assert Fill.objects.filter(strategy=strategy, side="sell").exists()
    closed = Position.objects.filter(strategy=strategy).exclude(closed_at=None)
    assert closed.exists()
    assert all(p.realized_pnl is not None and p.exit_reason == "take_profit" for p in closed)
    # stopping canceled every resting buy; lots keep their take-profits
    assert not Order.objects.filter(strategy=strategy, role="grid_buy", status__in=["open", "pending"]).exists()
    open_lots = Position.objects.filter(strategy=strategy, closed_at=None).count()
    assert Order.objects.filter(strategy=strategy, role="take_profit", status="open").count() == open_lots
    book = PaperBookRecord.objects.get(key=f"account:{strategy.account_id}")
    assert book.feeds["BTC/USDT"]["kind"] == "replay"


def test_it_refuses_an_unknown_strategy():
    with pytest.raises(CommandError, match="No strategy with id 999"):
        call_command("run_strategy", 999, "--ticks", "1")


def test_a_live_account_cannot_use_the_simulated_clock_or_feeds(alice):
    account = make_account(alice, "live", "binance", api_key="k" * 20, api_secret="s" * 20)
    strategy = make_strategy(alice, account)
    with pytest.raises(CommandError, match="only apply to paper accounts"):
        call_command("run_strategy", strategy.pk, "--ticks", "1", "--fast")


def test_it_refuses_a_strategy_whose_lease_a_worker_holds(alice, redis_client):
    strategy = make_strategy(alice, make_paper_account(alice))
    assert Lease(redis_client, strategy.pk, "worker-job", ttl_seconds=30).acquire()
    with pytest.raises(CommandError, match="is held by worker-job"):
        call_command(
            "run_strategy", strategy.pk, "--ticks", "1", "--fast", "--feed", "random", "--start-price", "30000"
        )
    assert not Order.objects.filter(strategy=strategy).exists()
    assert redis_client.get(f"strategy:lock:{strategy.pk}") == "worker-job"  # the worker's lease is left alone


def test_a_random_feed_needs_a_start_price(alice):
    strategy = make_strategy(alice, make_paper_account(alice))
    with pytest.raises(CommandError, match="--start-price"):
        call_command("run_strategy", strategy.pk, "--ticks", "1", "--feed", "random")


def test_it_runs_on_a_seeded_random_walk(alice):
    strategy = make_strategy(alice, make_paper_account(alice), grid_levels=2)
    out = StringIO()
    call_command(
        "run_strategy", strategy.pk, "--ticks", "3", "--fast", "--feed", "random", "--start-price", "30000", stdout=out
    )
    assert "running price=30000.00 buys=2" in out.getvalue()
    assert Order.objects.filter(strategy=strategy, role="grid_buy", status="canceled").count() == 2

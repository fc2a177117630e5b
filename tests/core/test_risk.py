"""Each risk rule at its exact boundary."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from tests.core.harness import make_config
from trading.core.risk import RiskManager
from trading.core.types import ExitReason, Lot

T0 = datetime(2022, 5, 5, 10, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def lot(entry: str = "30000", opened: datetime = T0, closed: datetime | None = None, pnl: str | None = None) -> Lot:
    return Lot(
        entry_client_order_id=f"ab7-{abs(hash((entry, opened, closed, pnl))) % 10**9}",
        level_price=D(entry),
        quantity=D("0.001"),
        entry_cost=D(entry) * D("0.001"),
        entry_fee_quote=D(0),
        opened_at=opened,
        closed_at=closed,
        realized_pnl=D(pnl) if pnl is not None else None,
    )


def test_max_positions_counts_open_lots_and_resting_buys():
    risk = RiskManager(make_config(max_positions=10), UTC)
    assert risk.buy_refused(open_lots=3, active_buys=6) is None  # 9 < 10: one more buy may rest
    reason = risk.buy_refused(open_lots=4, active_buys=6)  # 10 == 10: refused
    assert reason is not None
    assert reason.startswith("max positions")


def test_price_stop_fires_only_when_down_more_than_the_percentage():
    risk = RiskManager(make_config(stop_loss_pct=D(5)), UTC)
    held = lot("30000")
    assert risk.exit_reason(held, D("28500.00"), T0) is None  # exactly −5 %: kept
    assert risk.exit_reason(held, D("28499.99"), T0) is ExitReason.STOP_LOSS


def test_time_stop_fires_only_when_held_longer_than_the_hours():
    risk = RiskManager(make_config(time_stop_hours=D(2)), UTC)
    held = lot(opened=T0)
    assert risk.exit_reason(held, D("30000"), T0 + timedelta(hours=2)) is None  # exactly 2 h: kept
    assert risk.exit_reason(held, D("30000"), T0 + timedelta(hours=2, microseconds=1)) is ExitReason.TIME_STOP


def test_price_stop_wins_over_time_stop():
    risk = RiskManager(make_config(stop_loss_pct=D(5), time_stop_hours=D(1)), UTC)
    assert risk.exit_reason(lot("30000"), D("20000"), T0 + timedelta(hours=3)) is ExitReason.STOP_LOSS


def test_rules_switched_off_never_fire():
    risk = RiskManager(make_config(), UTC)
    assert risk.exit_reason(lot("30000"), D("1"), T0 + timedelta(days=999)) is None
    closed = [lot(closed=T0, pnl="-1000")] * 5
    assert risk.pause_reasons(closed, T0) == []


def test_daily_loss_limit_pauses_at_exactly_the_limit():
    risk = RiskManager(make_config(daily_loss_limit=D(10)), SHANGHAI)
    now = datetime(2022, 5, 5, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    at_limit = [lot(closed=now - timedelta(hours=1), pnl="-6"), lot(closed=now - timedelta(hours=2), pnl="-4")]
    reasons = risk.pause_reasons(at_limit, now)
    assert len(reasons) == 1
    assert reasons[0].startswith("daily loss limit: realized -10 today")
    assert "2022-05-06T00:00:00+08:00" in reasons[0]  # resumes at the next local midnight
    assert risk.pause_reasons([lot(closed=now, pnl="-9.99999999")], now) == []


def test_daily_loss_is_net_of_the_days_gains():
    risk = RiskManager(make_config(daily_loss_limit=D(10)), UTC)
    closed = [lot(closed=T0, pnl="-12"), lot(closed=T0, pnl="3")]
    assert risk.pause_reasons(closed, T0) == []


def test_daily_loss_counts_the_day_in_the_configured_time_zone():
    risk = RiskManager(make_config(daily_loss_limit=D(10)), SHANGHAI)
    local_midnight = datetime(2022, 5, 4, 16, 0, tzinfo=UTC)  # 2022-05-05 00:00 in Shanghai
    now = local_midnight + timedelta(hours=5)
    assert risk.pause_reasons([lot(closed=local_midnight, pnl="-10")], now) != []  # closed at 00:00 today: counts
    yesterday = local_midnight - timedelta(microseconds=1)
    assert risk.pause_reasons([lot(closed=yesterday, pnl="-10")], now) == []  # 23:59:59.999999 yesterday
    # and the pause ends on the next local day
    assert risk.pause_reasons([lot(closed=local_midnight, pnl="-10")], local_midnight + timedelta(days=1)) == []


def test_cooldown_after_n_losses_in_a_row_lasts_exactly_m_minutes():
    risk = RiskManager(make_config(max_consecutive_losses=2, cooldown_minutes=30), UTC)
    closed = [lot(closed=T0 - timedelta(minutes=5), pnl="-1"), lot(closed=T0, pnl="-0.01")]
    paused = risk.pause_reasons(closed, T0 + timedelta(minutes=29, seconds=59))
    assert len(paused) == 1
    assert paused[0].startswith("cooldown: last 2 exits lost")
    assert risk.pause_reasons(closed, T0 + timedelta(minutes=30)) == []  # at exactly +30 min: buys resume


def test_cooldown_needs_n_losses_in_a_row():
    risk = RiskManager(make_config(max_consecutive_losses=2, cooldown_minutes=30), UTC)
    assert risk.pause_reasons([lot(closed=T0, pnl="-1")], T0) == []  # one loss only
    broken = [
        lot(closed=T0 - timedelta(minutes=2), pnl="-1"),
        lot(closed=T0 - timedelta(minutes=1), pnl="0"),
        lot(closed=T0, pnl="-1"),
    ]
    assert risk.pause_reasons(broken, T0) == []  # a break-even exit is not a loss: it ends the streak


def test_realized_pnl_today_is_decimal_money_even_before_anything_closed():
    realized = RiskManager(make_config(), UTC).realized_today([], T0)
    assert isinstance(realized, D)
    assert f"{realized:f}" == "0"

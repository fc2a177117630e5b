"""Each risk rule at its exact boundary."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from tests.core.harness import START, Harness, make_config
from trading.core.memory import InMemoryJournal
from trading.core.risk import ExitHistory, RiskManager
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


def exits(risk: RiskManager, closed: list[Lot]) -> ExitHistory:
    """The closed lots as the engine hands them to the rules: in closing order, in the rules' time zone."""
    return ExitHistory(risk.tz, sorted(closed, key=lambda lot: lot.closed_at or T0))


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
    assert risk.pause_reasons(exits(risk, closed), T0) == []


def test_daily_loss_limit_pauses_at_exactly_the_limit():
    risk = RiskManager(make_config(daily_loss_limit=D(10)), SHANGHAI)
    now = datetime(2022, 5, 5, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    at_limit = [lot(closed=now - timedelta(hours=1), pnl="-6"), lot(closed=now - timedelta(hours=2), pnl="-4")]
    reasons = risk.pause_reasons(exits(risk, at_limit), now)
    assert len(reasons) == 1
    assert reasons[0].startswith("daily loss limit: realized -10 today")
    assert "2022-05-06T00:00:00+08:00" in reasons[0]  # resumes at the next local midnight
    assert risk.pause_reasons(exits(risk, [lot(closed=now, pnl="-9.99999999")]), now) == []


def test_daily_loss_is_net_of_the_days_gains():
    risk = RiskManager(make_config(daily_loss_limit=D(10)), UTC)
    closed = [lot(closed=T0, pnl="-12"), lot(closed=T0, pnl="3")]
    assert risk.pause_reasons(exits(risk, closed), T0) == []


def test_daily_loss_counts_the_day_in_the_configured_time_zone():
    risk = RiskManager(make_config(daily_loss_limit=D(10)), SHANGHAI)
    local_midnight = datetime(2022, 5, 4, 16, 0, tzinfo=UTC)  # 2022-05-05 00:00 in Shanghai
    now = local_midnight + timedelta(hours=5)
    at_midnight = exits(risk, [lot(closed=local_midnight, pnl="-10")])
    assert risk.pause_reasons(at_midnight, now) != []  # closed at 00:00 today: counts
    yesterday = local_midnight - timedelta(microseconds=1)
    assert risk.pause_reasons(exits(risk, [lot(closed=yesterday, pnl="-10")]), now) == []  # 23:59:59.999999 yesterday
    # and the pause ends on the next local day
    assert risk.pause_reasons(at_midnight, local_midnight + timedelta(days=1)) == []


def test_cooldown_after_n_losses_in_a_row_lasts_exactly_m_minutes():
    risk = RiskManager(make_config(max_consecutive_losses=2, cooldown_minutes=30), UTC)
    closed = [lot(closed=T0 - timedelta(minutes=5), pnl="-1"), lot(closed=T0, pnl="-0.01")]
    paused = risk.pause_reasons(exits(risk, closed), T0 + timedelta(minutes=29, seconds=59))
    assert len(paused) == 1
    assert paused[0].startswith("cooldown: last 2 exits lost")
    assert risk.pause_reasons(exits(risk, closed), T0 + timedelta(minutes=30)) == []  # at exactly +30 min: buys resume


def test_cooldown_needs_n_losses_in_a_row():
    risk = RiskManager(make_config(max_consecutive_losses=2, cooldown_minutes=30), UTC)
    assert risk.pause_reasons(exits(risk, [lot(closed=T0, pnl="-1")]), T0) == []  # one loss only
    broken = [
        lot(closed=T0 - timedelta(minutes=2), pnl="-1"),
        lot(closed=T0 - timedelta(minutes=1), pnl="0"),
        lot(closed=T0, pnl="-1"),
    ]
    assert risk.pause_reasons(exits(risk, broken), T0) == []  # a break-even exit is not a loss: it ends the streak


def test_realized_pnl_today_is_decimal_money_even_before_anything_closed():
    realized = RiskManager(make_config(), UTC).realized_today(ExitHistory(UTC), T0)
    assert isinstance(realized, D)
    assert f"{realized:f}" == "0"


class CountedPnl(D):
    """A realized PnL that counts how often it is added up: how often the engine reads a closed lot's PnL."""

    additions = 0

    def __add__(self, other: object) -> D:
        CountedPnl.additions += 1
        return D.__add__(self, other)  # type: ignore[operator]

    def __radd__(self, other: object) -> D:
        CountedPnl.additions += 1
        return D.__radd__(self, other)  # type: ignore[operator]


def test_the_days_exits_are_summed_once_as_they_close_not_rescanned_every_tick():
    journal = InMemoryJournal()
    for i in range(1000):  # a busy day, already in the journal when the engine starts
        closed_at = START + timedelta(seconds=i)
        journal.lots[f"ab7-{i}"] = replace(
            lot(opened=closed_at, closed=closed_at, pnl="-0.001"),
            entry_client_order_id=f"ab7-{i}",
            sold_quantity=D("0.001"),
            realized_pnl=CountedPnl("-0.001"),
        )
    h = Harness("30000", journal=journal, start=START + timedelta(hours=1), daily_loss_limit=D(5))
    assert h.start().realized_pnl_today == D(-1)  # rebuilt from the journal once, on start
    CountedPnl.additions = 0
    for _ in range(100):
        status = h.step("30000")
    assert status.realized_pnl_today == D(-1)
    assert CountedPnl.additions == 0  # the old code added up all 1,000 twice per tick: 200,000


def test_realized_pnl_today_restarts_at_local_midnight_and_a_restart_rebuilds_it_from_the_journal():
    h = Harness("30000", tz="Asia/Shanghai", start=datetime(2022, 5, 5, 15, 50, tzinfo=UTC), grid_levels=1)  # 23:50

    def closed_on(day: int) -> D:
        """Σ realized PnL in the journal of the lots closed on May `day` in Shanghai."""
        lots = [x for x in h.closed_lots() if x.closed_at and x.closed_at.astimezone(SHANGHAI).day == day]
        return sum((x.realized_pnl or D(0) for x in lots), D(0))

    h.start()
    for _ in range(2):
        h.step("29650")
        status = h.step("29997.01")
    assert len(h.closed_lots()) == 2
    assert status.realized_pnl_today == closed_on(5) > D("0.3")
    assert h.restart().realized_pnl_today == closed_on(5)  # the same day, rebuilt from the journal
    h.clock.set(datetime(2022, 5, 5, 15, 59, 59, tzinfo=UTC))
    assert h.step("29997.01", seconds=0).realized_pnl_today == closed_on(5)
    assert h.step("29997.01").realized_pnl_today == 0  # 00:00:00 in Shanghai: a new day
    h.step("29650")
    status = h.step("29997.01")
    assert len(h.closed_lots()) == 3
    assert status.realized_pnl_today == closed_on(6) > 0
    assert h.restart().realized_pnl_today == closed_on(6)  # yesterday's two exits are not today's

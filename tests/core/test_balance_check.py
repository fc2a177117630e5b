"""The balance check: the status says so when the account holds less base than the open lots and the dust do.

A gap means coins left the account behind the engine's back (a manual sell, a withdrawal): its lots can no longer
all be sold, and the user must be told. No gap must show no note, or the note stops meaning anything.
"""

from decimal import Decimal as D

from exchanges.base import OrderRequest, OrderType, Side
from tests.core.harness import Harness
from trading.core.engine import TradingEngine
from trading.core.types import EngineStatus


def gap_notes(status: EngineStatus) -> list[str]:
    return [note for note in status.notes if note.startswith("balance gap")]


def sell_by_hand(h: Harness, amount: str) -> None:
    """Someone sells the lot's coins on the exchange themselves: cancel its take-profit, sell at market."""
    [take_profit] = h.open_orders(Side.SELL)
    h.exchange.cancel_order("BTC/USDT", take_profit.client_order_id)
    h.exchange.place_order(OrderRequest("by-hand-1", "BTC/USDT", Side.SELL, OrderType.MARKET, D(amount)))


def test_a_lot_fully_held_by_the_account_shows_no_gap():
    h = Harness("30000")
    h.start()
    status = h.step("29650")  # a lot of 0.00067 BTC opens; the fee was paid in USDT, so the account has it exactly
    assert h.balance("BTC") == sum(lot.quantity for lot in h.open_lots()) == D("0.00067")
    assert gap_notes(status) == []


def test_coins_sold_behind_the_engines_back_show_a_gap_in_the_status():
    h = Harness("30000")
    h.start()
    h.step("29650")
    sell_by_hand(h, "0.00067")
    status = h.step("29650")
    assert gap_notes(status) == ["balance gap: the open lots and the dust hold 0.00067 BTC, the account has 0.00000"]


def test_a_partial_gap_names_both_amounts_and_clears_when_the_coins_are_back():
    h = Harness("30000", order_size_quote=D(40))
    h.start()
    h.step("29650")  # a lot of 0.00134 BTC
    sell_by_hand(h, "0.00040")
    status = h.step("29650")
    assert gap_notes(status) == ["balance gap: the open lots and the dust hold 0.00134 BTC, the account has 0.00094"]
    with h.store.session() as book:
        book.balance("BTC").free += D("0.00040")  # bought back by hand
    assert gap_notes(h.step("29650")) == []


def test_the_balance_is_compared_only_every_n_ticks():
    h = Harness("30000")
    h.engine = TradingEngine(
        h.config,
        exchange=h.exchange,
        journal=h.journal,
        status_board=h.board,
        clock=h.clock,
        tz=h.tz,
        balance_check_every=3,
    )
    h.start()  # tick 1: compared, no lot yet
    h.step("29650")  # tick 2: the lot opens
    sell_by_hand(h, "0.00067")
    assert gap_notes(h.step("29650")) == []  # tick 3: not compared
    assert len(gap_notes(h.step("29650"))) == 1  # tick 4: compared
    assert len(gap_notes(h.step("29650"))) == 1  # the note stays until the next comparison

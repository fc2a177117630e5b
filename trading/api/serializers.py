from __future__ import annotations

from typing import Any

from rest_framework import serializers

from trading.choices import choices_of
from trading.core.types import ExitReason, Role
from trading.models import MONEY_DIGITS, MONEY_PLACES, Fill, Order


class TradeSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name", read_only=True)
    symbol = serializers.CharField(source="strategy.symbol", read_only=True)
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)
    role = serializers.CharField(source="order.role", read_only=True)
    quote_amount = serializers.DecimalField(max_digits=65, decimal_places=18, read_only=True)
    position_pnl = serializers.DecimalField(
        source="order.closed_position.realized_pnl",
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        read_only=True,
        allow_null=True,
        help_text="For a sale that closed a position (take-profit, stop): that position's realized PnL in the quote "
        "currency, net of both fees; each fill of a sale filled in parts shows it. null for buys and other sales.",
    )

    class Meta:
        model = Fill
        fields = [
            "id",
            "strategy",
            "strategy_name",
            "symbol",
            "side",
            "role",
            "client_order_id",
            "trade_id",
            "price",
            "amount",
            "quote_amount",
            "fee",
            "fee_currency",
            "executed_at",
            "position_pnl",
        ]
        read_only_fields = fields


class _Money(serializers.DictField):
    child = serializers.CharField()


class DailyPnlSerializer(serializers.Serializer):
    date = serializers.DateField()
    currency = serializers.CharField()
    realized_pnl = serializers.CharField()
    closed_positions = serializers.IntegerField()


class CurrencyStatsSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The quote currency of the strategies these figures are about.")
    count = serializers.IntegerField(help_text="Trades of those strategies.")
    buys = serializers.IntegerField()
    sells = serializers.IntegerField()
    volume = serializers.CharField(help_text="Traded notional, in this currency.")
    fees = serializers.CharField(
        help_text="Fees paid in this currency (fees paid in another currency, such as BNB, are only in `fees`)."
    )
    realized_pnl = serializers.CharField(help_text="Net of fees, over the positions closed in range.")
    closed_positions = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.CharField(allow_null=True, help_text="wins / closed positions, 0 to 1.")


class TradeStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    buys = serializers.IntegerField()
    sells = serializers.IntegerField()
    volume = _Money(help_text="Traded notional per quote currency.")
    fees = _Money(help_text="Fees paid per fee currency.")
    realized_pnl = _Money(help_text="Realized PnL net of fees per quote currency, over positions closed in range.")
    closed_positions = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.CharField(allow_null=True, help_text="wins / closed positions, 0 to 1.")
    per_currency = CurrencyStatsSerializer(
        many=True, help_text="The same figures per quote currency, for each one with trades or closed positions."
    )
    time_zone = serializers.CharField()
    pnl_per_day = DailyPnlSerializer(many=True)


class PnlPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField(help_text="The start of its day (in TIME_ZONE) or hour.")
    realized_pnl = serializers.CharField(help_text="Realized by the positions that closed in it, net of fees.")
    closed_positions = serializers.IntegerField()
    cumulative_pnl = serializers.CharField(help_text="Realized up to its end, from `before` on.")


class PnlCurrencySeriesSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The quote currency.")
    before = serializers.CharField(help_text="Realized before `since` (0 without it): where the running total starts.")
    total = serializers.CharField(help_text="Realized up to the end of the range.")
    points = PnlPointSerializer(many=True, help_text="Only the days (or hours) in which a position closed.")


class PnlSeriesSerializer(serializers.Serializer):
    time_zone = serializers.CharField()
    bucket = serializers.ChoiceField(choices=[("day", "day"), ("hour", "hour")])
    series = PnlCurrencySeriesSerializer(many=True, help_text="One per quote currency.")


def _decimal(help_text: str = "", **kwargs: Any) -> serializers.DecimalField:
    """A model amount as a plain decimal string: 0.5, not 0.500000000000000000."""
    return serializers.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, normalize_output=True, help_text=help_text, **kwargs
    )


class OrderSerializer(serializers.ModelSerializer):
    """An order of the strategy, as its engine journaled it."""

    price = _decimal("Limit price; null for a market order.", allow_null=True)
    amount = _decimal("Amount ordered, in the base currency.")
    filled = _decimal("Amount filled so far.")
    average_price = _decimal("Average price of its fills; null before the first.", allow_null=True)
    fee = _decimal("Fees paid so far, in fee_currency.")
    lot = serializers.CharField(
        source="parent.client_order_id",
        allow_null=True,
        default=None,
        help_text="For a take-profit or a stop's sale: the client order id of the grid buy whose lot it sells.",
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "client_order_id",
            "exchange_order_id",
            "symbol",
            "side",
            "type",
            "role",
            "status",
            "price",
            "amount",
            "filled",
            "average_price",
            "fee",
            "fee_currency",
            "lot",
            "error",
            "created_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = fields


def _text(help_text: str, *, null: bool = False) -> serializers.CharField:
    return serializers.CharField(help_text=help_text, allow_null=null)


class OpenLotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    entry_order = _text("Client order id of the grid buy that opened the lot.")
    level_price = _text("The grid buy's limit price: the level the lot occupies.", null=True)
    opened_at = serializers.DateTimeField()
    age_seconds = serializers.IntegerField(help_text="Seconds since it opened.")
    quantity = _text("Base currency bought.")
    remaining = _text("Base currency still held (quantity less what an exit has sold of it).")
    entry_price = _text("Average buy price.")
    entry_cost = _text("Quote paid for the quantity, without the fee.")
    entry_fee_quote = _text("The buy fee valued in quote.")
    exit_order = _text("Client order id of the exit order working on it; null when it has none.", null=True)
    exit_role = serializers.ChoiceField(
        choices=choices_of(Role), allow_null=True, help_text="take_profit, or the stop selling it at market."
    )
    take_profit_price = _text("Price of its resting take-profit; null when it has none.", null=True)
    stop_loss_price = _text(
        "The stop-loss sells it when the price falls below this; null when the strategy has no stop-loss.", null=True
    )
    time_stop_at = serializers.DateTimeField(
        allow_null=True, help_text="When the time stop sells it; null when the strategy has no time stop."
    )
    unrealized_pnl = _text(
        "What is left of it valued at current_price, less its share of the entry cost and buy fee (before the fee "
        "of selling it), in quote; null when no price is known.",
        null=True,
    )


class ClosedLotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    entry_order = _text("Client order id of the grid buy that opened the lot.")
    exit_order = _text("Client order id of the order that sold it.", null=True)
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField()
    held_seconds = serializers.IntegerField()
    quantity = _text("Base currency bought (after dust moved on to a later lot: what it sold).")
    sold_quantity = _text("Base currency sold.")
    entry_price = _text("Average buy price.")
    exit_price = _text("Average sell price.", null=True)
    entry_fee_quote = _text("The buy fee valued in quote.")
    exit_fee_quote = _text("The sell fee valued in quote.")
    realized_pnl = _text("Net of both fees, in quote.", null=True)
    exit_reason = serializers.ChoiceField(choices=choices_of(ExitReason), allow_null=True)


class ClosedLotPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Closed lots in all.")
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    results = ClosedLotSerializer(many=True)


class PositionsSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    current_price = _text("The price the open lots are valued at; null when none is known.", null=True)
    price_from = serializers.ChoiceField(
        choices=[("status", "status"), ("last_fill", "last_fill")],
        allow_null=True,
        help_text="status: the price its engine reported last; last_fill: its latest trade's (no engine reports, "
        "or Redis is unreachable).",
    )
    price_at = serializers.DateTimeField(allow_null=True, help_text="When that price was seen.")
    unrealized_pnl = _text("Sum over the open lots, in quote; null when no price is known.", null=True)
    open = OpenLotSerializer(many=True, help_text="Every open lot, oldest first.")
    closed = ClosedLotPageSerializer(help_text="The closed lots, latest first, a page at a time (page, page_size).")


class CandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField(
        help_text="Where it falls among the strategy's trades: its open time, or for a replayed market when the "
        "replay played its first part."
    )
    market_time = serializers.DateTimeField(help_text="Its open time on the market's own clock (a replay: the data's).")
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField(help_text="In the base currency.")


class CandleChartSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    origin = serializers.CharField(
        help_text='Where they come from: an exchange ("binance", "binance testnet"), or a paper account\'s data '
        'set ("data set BTCUSDT-1m-2022-05-05").'
    )
    candles = CandleSerializer(many=True, help_text="Oldest first; the last one is still forming.")


class MarketRulesSerializer(serializers.Serializer):
    tick_size = serializers.CharField()
    step_size = serializers.CharField()
    min_amount = serializers.CharField()
    min_notional = serializers.CharField()
    maker_fee = serializers.CharField()
    taker_fee = serializers.CharField()
    max_open_orders = serializers.IntegerField(help_text="Open orders per symbol and account; 0: no limit stated.")


class PreviewLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField(help_text="1 is the level nearest the price.")
    price = serializers.CharField(help_text="The buy's limit price.")
    amount = serializers.CharField(help_text="The buy's amount, in the base currency.")
    quote = serializers.CharField(help_text="price × amount.")
    quote_needed = serializers.CharField(
        help_text="Free quote the engine waits for before placing it: the notional and the buy fee at fee_rate."
    )
    take_profit_price = serializers.CharField(allow_null=True, help_text="null when the lot could have none.")
    take_profit_amount = serializers.CharField(help_text="What the take-profit sells, after the buy fee.")
    cycle_profit = serializers.CharField(
        allow_null=True, help_text="PnL of one cycle (bought here, sold at the take-profit), net of both fees."
    )
    stop_loss_below = serializers.CharField(
        allow_null=True, help_text="The stop-loss sells the lot when the price falls below this; null without one."
    )
    problem = serializers.CharField(allow_null=True, help_text="Why the lot would have no take-profit.")


class GridPreviewSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    origin = serializers.CharField(help_text="Where the price comes from: the exchange, or a paper account's data set.")
    price = serializers.CharField(help_text="The current price, at which the ladder is anchored.")
    fee_rate = serializers.CharField(help_text="The market's higher fee rate, which every figure assumes.")
    market = MarketRulesSerializer()
    levels = PreviewLevelSerializer(many=True, help_text="The buys the engine would place now, nearest first.")
    total_quote = serializers.CharField(help_text="Σ quote of the levels.")
    total_quote_needed = serializers.CharField(help_text="Σ quote_needed: what placing them all takes.")
    skipped = serializers.ListField(
        child=serializers.CharField(),
        help_text="Levels not placed, or waiting for a rule of the moment, each with its reason (and the order "
        "size that would place it).",
    )
    paused = serializers.ListField(child=serializers.CharField(), help_text="Why the ladder stops short.")
    notes = serializers.ListField(child=serializers.CharField())

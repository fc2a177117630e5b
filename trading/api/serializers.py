from __future__ import annotations

from rest_framework import serializers

from trading.models import Fill


class TradeSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name", read_only=True)
    symbol = serializers.CharField(source="strategy.symbol", read_only=True)
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)
    role = serializers.CharField(source="order.role", read_only=True)
    quote_amount = serializers.DecimalField(max_digits=65, decimal_places=18, read_only=True)

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
        ]
        read_only_fields = fields


class _Money(serializers.DictField):
    child = serializers.CharField()


class DailyPnlSerializer(serializers.Serializer):
    date = serializers.DateField()
    currency = serializers.CharField()
    realized_pnl = serializers.CharField()
    closed_positions = serializers.IntegerField()


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
    time_zone = serializers.CharField()
    pnl_per_day = DailyPnlSerializer(many=True)

"""Serializers of the runtime views (strategies/status.py): status hashes, the running list, the worker nodes."""

from __future__ import annotations

from rest_framework import serializers

from strategies.choices import DesiredState
from trading.choices import choices_of
from trading.core.types import EngineState


class StatusHashSerializer(serializers.Serializer):
    task_id = serializers.CharField(allow_null=True, help_text="The job running the strategy.")
    worker_ip = serializers.CharField(allow_null=True, help_text="The address of the worker node running it.")
    worker_hostname = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=choices_of(EngineState), allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True, help_text="When its engine started (UTC).")
    current_price = serializers.CharField(allow_null=True, help_text="The last price seen, a decimal string.")
    pending_buys = serializers.IntegerField(allow_null=True, help_text="Open buy orders.")
    pending_sells = serializers.IntegerField(allow_null=True, help_text="Open take-profit sells.")
    position_count = serializers.IntegerField(allow_null=True, help_text="Open positions (lots held).")
    last_error = serializers.CharField(allow_null=True)
    skipped_levels = serializers.ListField(
        child=serializers.CharField(),
        help_text="Grid levels not placed, each with its reason (and the order size that would place it).",
    )
    paused = serializers.ListField(child=serializers.CharField(), help_text="Why new buys pause.")
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="Other things to know: unsellable lots, dust, waits."
    )
    updated_at = serializers.DateTimeField(allow_null=True, help_text="When the engine last reported (UTC).")


class NodeSerializer(serializers.Serializer):
    ip = serializers.CharField()
    hostname = serializers.CharField(allow_null=True)


class RuntimeStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    symbol = serializers.CharField()
    desired_state = serializers.ChoiceField(choices=DesiredState.choices, help_text="What you last asked for.")
    running = serializers.BooleanField(help_text="Whether an engine runs it (or is stopping it) now.")
    status = StatusHashSerializer(allow_null=True, help_text="What its engine last reported; null when none runs.")
    node = NodeSerializer(allow_null=True, help_text="The worker node running it; null when none does.")
    retry_after_error = serializers.CharField(
        allow_null=True, help_text="The error that stopped its last run, while it waits to be retried."
    )


class WorkerStrategySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    symbol = serializers.CharField()
    status = serializers.ChoiceField(choices=choices_of(EngineState), allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True, help_text="When its engine last reported (UTC).")


class WorkerNodeSerializer(serializers.Serializer):
    ip = serializers.CharField()
    hostname = serializers.CharField()
    last_heartbeat_at = serializers.DateTimeField(
        allow_null=True, help_text="When the node last reported that it is alive (UTC); null when not known."
    )
    strategies = WorkerStrategySerializer(many=True, help_text="Your strategies on this node.")


class DashboardAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    exchange = serializers.CharField(help_text="A CCXT id, or paper.")


class DashboardStrategySerializer(RuntimeStatusSerializer):
    quote_currency = serializers.CharField(help_text="The currency its PnL is in (USDT of BTC/USDT).")
    account = DashboardAccountSerializer()
    loop_interval = serializers.CharField(help_text="Seconds between its engine's ticks, a decimal string.")
    open_positions = serializers.IntegerField(help_text="Lots it holds, from the trade record (also when stopped).")
    today_pnl = serializers.CharField(
        allow_null=True, help_text="Realized PnL of the positions it closed today (TIME_ZONE); null when none."
    )


class DashboardSerializer(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text="When this answer was made (UTC): ages are measured from it.")
    time_zone = serializers.CharField(help_text="The TIME_ZONE whose day 'today' is.")
    day_started_at = serializers.DateTimeField(help_text="The start of today in that zone (UTC).")
    strategies = DashboardStrategySerializer(many=True, help_text="Every strategy of yours, by name.")
    today_pnl = serializers.DictField(
        child=serializers.CharField(), help_text='Today\'s realized PnL per quote currency, e.g. {"USDT": "12.5"}.'
    )

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
    strategies = WorkerStrategySerializer(many=True, help_text="Your strategies on this node.")

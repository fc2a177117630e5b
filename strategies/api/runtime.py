"""Serializers of the runtime views (strategies/status.py): status hashes, the running list, the worker nodes."""

from __future__ import annotations

from rest_framework import serializers


class StatusHashSerializer(serializers.Serializer):
    task_id = serializers.CharField(allow_null=True)
    worker_ip = serializers.CharField(allow_null=True)
    worker_hostname = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["running", "stopping", "stopped", "error"])
    started_at = serializers.FloatField(allow_null=True, help_text="Epoch seconds.")
    current_price = serializers.CharField(allow_null=True)
    pending_buys = serializers.IntegerField(allow_null=True)
    pending_sells = serializers.IntegerField(allow_null=True)
    position_count = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    skipped_levels = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Grid levels not placed, each with its reason (and the order size that would place it).",
    )
    paused = serializers.ListField(child=serializers.CharField(), required=False, help_text="Why new buys pause.")
    notes = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Other things to know: unsellable lots, dust, waits."
    )
    updated_at = serializers.FloatField(allow_null=True, help_text="Epoch seconds.")


class NodeSerializer(serializers.Serializer):
    ip = serializers.CharField()
    hostname = serializers.CharField(allow_null=True)


class RuntimeStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    symbol = serializers.CharField()
    desired_state = serializers.CharField()
    running = serializers.BooleanField()
    status = StatusHashSerializer(allow_null=True, help_text="The strategy:running:{id} hash; null when absent.")
    node = NodeSerializer(allow_null=True)
    retry_after_error = serializers.CharField(
        allow_null=True, help_text="The last fatal error while the supervisor waits before retrying."
    )


class WorkerNodeSerializer(serializers.Serializer):
    ip = serializers.CharField()
    hostname = serializers.CharField()
    strategies = serializers.ListField(child=serializers.DictField(), help_text="Your strategies on this node.")

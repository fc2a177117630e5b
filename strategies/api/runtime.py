"""Runtime views of strategies: their status hashes, the running list and the worker nodes, from Redis."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from rest_framework import serializers


class StrategyLike(Protocol):
    @property
    def pk(self) -> Any: ...
    @property
    def name(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def desired_state(self) -> str: ...


class StrategyRef(NamedTuple):
    """The four columns a runtime view shows, without the cost of a model instance per row."""

    pk: int
    name: str
    symbol: str
    desired_state: str


STATUS_INT_FIELDS = ("pending_buys", "pending_sells", "position_count")


def parse_status(raw: dict[str, str]) -> dict[str, Any]:
    """The hash as the API shows it: counts as numbers, times as epoch seconds, empties as null."""
    status: dict[str, Any] = {}
    for key, value in raw.items():
        if value == "":
            status[key] = None
        elif key in STATUS_INT_FIELDS:
            status[key] = int(value) if value.lstrip("-").isdigit() else None
        elif key in ("started_at", "updated_at"):
            try:
                status[key] = float(value)
            except ValueError:
                status[key] = value
        else:
            status[key] = value
    return status


def runtime_view(strategy: StrategyLike, raw: dict[str, str], backoff: str | None = None) -> dict[str, Any]:
    status = parse_status(raw) if raw else None
    node = None
    if status and status.get("worker_ip"):
        node = {"ip": status["worker_ip"], "hostname": status.get("worker_hostname")}
    return {
        "id": strategy.pk,
        "name": strategy.name,
        "symbol": strategy.symbol,
        "desired_state": strategy.desired_state,
        "running": status is not None and status.get("status") in ("running", "stopping"),
        "status": status,
        "node": node,
        "retry_after_error": backoff,
    }


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

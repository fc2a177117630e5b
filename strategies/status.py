"""Runtime views of strategies: their strategy:running:{id} hashes as the API shows them."""

from __future__ import annotations

import json
from typing import Any, NamedTuple, Protocol


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
STATUS_LIST_FIELDS = ("skipped_levels", "paused", "notes")  # JSON lists of reasons (EngineStatus.redis_fields)


def _reasons(value: str) -> list[str]:
    try:
        reasons = json.loads(value)
    except ValueError:
        return [value]  # written by hand, not by an engine: shown as it is
    return [str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)]


def parse_status(raw: dict[str, str]) -> dict[str, Any]:
    """The hash as the API shows it: counts as numbers, times as epoch seconds, reasons as lists, empties as null."""
    status: dict[str, Any] = {}
    for key, value in raw.items():
        if key in STATUS_LIST_FIELDS:
            status[key] = _reasons(value) if value else []
        elif value == "":
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

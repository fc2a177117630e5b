"""Runtime views of strategies: their strategy:running:{id} hashes as the API shows them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from trading.runtime.coordination import STATUS_FIELDS


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
STATUS_TIME_FIELDS = ("started_at", "updated_at")
STATUS_LIST_FIELDS = ("skipped_levels", "paused", "notes")  # JSON lists of reasons (EngineStatus.redis_fields)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds (`2022-05-05T00:04:14.000Z`), as the runtime views speak time."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_time(epoch: str) -> str | None:
    """Epoch seconds as Redis keeps them → ISO 8601 in UTC, as the API speaks time; None when not a time."""
    try:
        moment = datetime.fromtimestamp(float(epoch), UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return iso_utc(moment)


def reasons(value: str) -> list[str]:
    """A JSON list of reasons as the engine writes it; anything else (written by hand) as one reason."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return [value]
    return [str(r) for r in parsed] if isinstance(parsed, list) else [str(parsed)]


def parse_status(raw: Mapping[str, str]) -> dict[str, Any]:
    """The hash as the API shows it: every field present, counts as numbers, times in ISO 8601 UTC, reasons as
    lists (empty when none), other empties as null."""
    status: dict[str, Any] = {}
    for key in STATUS_FIELDS:
        value = raw.get(key, "")
        if key in STATUS_LIST_FIELDS:
            status[key] = reasons(value) if value else []
        elif value == "":
            status[key] = None
        elif key in STATUS_INT_FIELDS:
            status[key] = int(value) if value.lstrip("-").isdigit() else None
        elif key in STATUS_TIME_FIELDS:
            status[key] = iso_time(value)
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


def worker_view(
    nodes: Mapping[str, str],
    mine: Mapping[int, StrategyLike],
    statuses: Mapping[int, Mapping[str, str]],
    heartbeats: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The live nodes (ip → hostname) with the caller's strategies each one runs, by ip, and when each node last
    reported (`heartbeats`: ip → epoch seconds)."""
    heartbeats = heartbeats or {}
    by_ip: dict[str, list[dict[str, Any]]] = {ip: [] for ip in nodes}
    for sid, raw in statuses.items():
        status = parse_status(raw)
        entry = {
            "id": sid,
            "name": mine[sid].name,
            "symbol": mine[sid].symbol,
            "status": status["status"],
            "updated_at": status["updated_at"],
        }
        by_ip.setdefault(raw.get("worker_ip", ""), []).append(entry)
    return [
        {
            "ip": ip,
            "hostname": nodes.get(ip, ""),
            "last_heartbeat_at": iso_time(heartbeats[ip]) if ip in heartbeats else None,
            "strategies": by_ip[ip],
        }
        for ip in sorted(by_ip)
    ]

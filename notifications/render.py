"""Message text per channel language (en, zh-hans), rendered from an event's kind and data (never stored).

Numbers are the decimal strings the engine recorded, which are already at the market's precision (amounts at its
amount step, prices at its tick); they are printed as they are, never through a float. Free text that came from an
exchange (an error's message, a pause reason) is scrubbed of anything that looks like a credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aresbot.logging import redact

_TEST = {
    "en": ("AresBot test message", "Channel “{name}” works: AresBot notifications will arrive here."),
    "zh-hans": ("AresBot 测试消息", "渠道“{name}”可用：AresBot 的通知将发送到这里。"),
}

_EVENT: dict[str, dict[str, str]] = {
    "en": {
        "started": "started on {node}",
        "stopped": "stopped by {by}",
        "handed_over": "handed over by {from_node}",
        "failed_over": "failed over from {from_node} to {to_node} after {gap_seconds} s",
        "buy_filled": "bought {amount} at {price}",
        "take_profit_filled": "take-profit sold {amount} at {price}, lot PnL {lot_pnl} {quote}",
        "stop_loss_sold": "stop-loss sold {amount} at {price}, lot PnL {lot_pnl} {quote}",
        "time_stop_sold": "time-stop sold {amount} at {price}, lot PnL {lot_pnl} {quote}",
        "ladder_placed": "ladder placed",
        "ladder_trailed": "ladder trailed up from {from} to {to}",
        "paused": "paused: {reason}",
        "resumed": "resumed",
        "level_skipped": "level skipped: {reason}",
        "error": "error {error_class}: {message}",
        "balance_gap": "balance gap found",
    },
    "zh-hans": {
        "started": "已在 {node} 上启动",
        "stopped": "已由 {by} 停止",
        "handed_over": "已由 {from_node} 交接",
        "failed_over": "已从 {from_node} 故障转移到 {to_node}，中断 {gap_seconds} 秒",
        "buy_filled": "以 {price} 买入 {amount}",
        "take_profit_filled": "止盈以 {price} 卖出 {amount}，本笔盈亏 {lot_pnl} {quote}",
        "stop_loss_sold": "止损以 {price} 卖出 {amount}，本笔盈亏 {lot_pnl} {quote}",
        "time_stop_sold": "超时以 {price} 卖出 {amount}，本笔盈亏 {lot_pnl} {quote}",
        "ladder_placed": "已挂出网格",
        "ladder_trailed": "网格从 {from} 上移到 {to}",
        "paused": "已暂停：{reason}",
        "resumed": "已恢复",
        "level_skipped": "跳过档位：{reason}",
        "error": "错误 {error_class}：{message}",
        "balance_gap": "发现余额缺口",
    },
}
_REPEATS = {"en": " (×{count})", "zh-hans": "（×{count}）"}
_DIGEST_TITLE = {"en": "AresBot: {count} events", "zh-hans": "AresBot：{count} 条事件"}


class _Facts(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True)
class EventFacts:
    id: int
    kind: str
    count: int
    strategy: str
    symbol: str
    data: Mapping[str, Any]


def test_message(language: str, channel_name: str) -> tuple[str, str]:
    title, body = _TEST.get(language, _TEST["en"])
    return title, body.format(name=channel_name)


def event_line(language: str, facts: EventFacts) -> str:
    """One line: the strategy, what happened, the repeat count, and the event's id (`(#123)`) to tell them apart."""
    texts = _EVENT.get(language, _EVENT["en"])
    template = texts.get(facts.kind, facts.kind)
    values = _Facts({k: redact(str(v))[:300] for k, v in facts.data.items() if not isinstance(v, dict | list)})
    line = f"{facts.strategy} ({facts.data.get('symbol') or facts.symbol}): {template.format_map(values)}"
    if facts.count > 1:
        line += _REPEATS.get(language, _REPEATS["en"]).format(count=facts.count)
    return f"{line} (#{facts.id})"


def event_message(language: str, events: Sequence[EventFacts]) -> tuple[str, str]:
    """One event as its own message, or several as one digest."""
    lines = [event_line(language, e) for e in events]
    if len(events) == 1:
        return f"AresBot · {events[0].strategy}", lines[0]
    title = _DIGEST_TITLE.get(language, _DIGEST_TITLE["en"]).format(count=len(events))
    return title, "\n".join(lines)

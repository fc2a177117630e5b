"""Message text per channel language (en, zh-hans), rendered from an event's kind and data (never stored).

Numbers are the decimal strings the engine recorded, which are already at the market's precision (amounts at its
amount step, prices at its tick); they are printed as they are, never through a float. Free text that came from an
exchange (an error's message, a pause reason) is scrubbed of anything that looks like a credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from aresbot.logging import redact

_TEST = {
    "en": ("AresBot test message", "Channel “{name}” works: AresBot notifications will arrive here."),
    "zh-hans": ("AresBot 测试消息", "渠道“{name}”可用：AresBot 的通知将发送到这里。"),
}

_EVENT: dict[str, dict[str, str]] = {
    "en": {
        "started": "started on {node}",
        "stopped": "stopped by {by}, cancelling {cancel_mode}",
        "handed_over": "handed over by {node}: {reason}",
        "failed_over": "failed over from {from_node} to {to_node} (gap: {gap})",
        "buy_filled": "bought {amount} at {price}",
        "take_profit_filled": "take-profit sold {amount} at {price}, lot PnL {lot_pnl} {quote}",
        "stop_loss_sold": "stop-loss sold {amount} at {price}, lot PnL {lot_pnl} {quote}",
        "time_stop_sold": "time-stop sold {amount} at {price}, lot PnL {lot_pnl} {quote}",
        "ladder_placed": "ladder placed at {anchor} ({levels} levels)",
        "ladder_trailed": "ladder trailed up from {from_anchor} to {to_anchor}",
        "paused": "buys paused: {reason} ({detail})",
        "resumed": "buys resumed: {reason} no longer holds them back",
        "level_skipped": "levels skipped: {reasons}",
        "error": "error {error_class}: {message}",
        "balance_gap": "balance gap: the lots hold {held} {asset}, the account has {have}",
    },
    "zh-hans": {
        "started": "已在 {node} 上启动",
        "stopped": "已由{by}停止，撤销{cancel_mode}",
        "handed_over": "已由 {node} 交接：{reason}",
        "failed_over": "已从 {from_node} 故障转移到 {to_node}，中断时长：{gap}",
        "buy_filled": "以 {price} 买入 {amount}",
        "take_profit_filled": "止盈以 {price} 卖出 {amount}，本笔盈亏 {lot_pnl} {quote}",
        "stop_loss_sold": "止损以 {price} 卖出 {amount}，本笔盈亏 {lot_pnl} {quote}",
        "time_stop_sold": "超时以 {price} 卖出 {amount}，本笔盈亏 {lot_pnl} {quote}",
        "ladder_placed": "已在 {anchor} 挂出网格（{levels} 档）",
        "ladder_trailed": "网格从 {from_anchor} 上移到 {to_anchor}",
        "paused": "暂停买入：{reason}（{detail}）",
        "resumed": "恢复买入：{reason}已解除",
        "level_skipped": "跳过档位：{reasons}",
        "error": "错误 {error_class}：{message}",
        "balance_gap": "余额缺口：持仓 {held} {asset}，账户只有 {have}",
    },
}
# The codes in an event's data, in words. The Chinese reasons are the web app's (its locale's events.reason), so a
# pause reads the same on the page and on the phone. A code not listed here is printed as it is.
_WORDS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "by": {"owner": "its owner", "admin": "an administrator", "system": "the system", "unknown": "someone unknown"},
        "cancel_mode": {"buys": "its open buys", "all": "every open order"},
        "reason": {
            "daily_loss_limit": "the daily loss limit is reached",
            "cooldown": "the loss-streak cooldown",
            "max_positions": "the maximum of open positions is reached",
            "insufficient_funds": "insufficient funds",
            "exchange_down": "the exchange is unreachable",
            "market_rule": "a market rule",
            # a handover's reason (trading.runtime.runner)
            "worker shutting down": "its worker is shutting down",
            "its worker process is gone": "its worker process is gone",
        },
        "gap": {"seconds": "{seconds} s", "unknown": "unknown"},
    },
    "zh-hans": {
        "by": {"owner": "所有者", "admin": "管理员", "system": "系统", "unknown": "未知"},
        "cancel_mode": {"buys": "买单", "all": "全部订单"},
        "reason": {
            "daily_loss_limit": "达到每日亏损上限",
            "cooldown": "连续亏损冷却",
            "max_positions": "持仓数已达上限",
            "insufficient_funds": "资金不足",
            "exchange_down": "交易所不可达",
            "market_rule": "市场规则",
            "worker shutting down": "工作进程正在关闭",
            "its worker process is gone": "工作进程已不存在",
        },
        "gap": {"seconds": "{seconds} 秒", "unknown": "未知"},
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


# The longest a value from the event (an exchange's error message, a list of skip reasons) runs in a message.
MAX_VALUE = 300


def _clip(text: str) -> str:
    """At most MAX_VALUE characters, cut at a word where there is one, with an ellipsis that says it was cut."""
    if len(text) <= MAX_VALUE:
        return text
    head = text[: MAX_VALUE - 1]
    space = head.rfind(" ")
    return (head[:space] if space > MAX_VALUE // 2 else head).rstrip(" ,;:") + "…"


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def at_price_precision(amount: str, price: str) -> str:
    """A quote amount (a lot's PnL, computed to many places) at the places of the market's tick (or, for events
    written before they carried it, of a price), at least 2: the precision the trader sees prices in."""
    try:
        value = Decimal(amount)
        places = max(2, -Decimal(price).normalize().as_tuple().exponent) if price else 8  # type: ignore[operator]
    except InvalidOperation:
        return amount
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):f}"


def test_message(language: str, channel_name: str) -> tuple[str, str]:
    title, body = _TEST.get(language, _TEST["en"])
    return title, body.format(name=channel_name)


def event_line(language: str, facts: EventFacts) -> str:
    """One line: the strategy, what happened, the repeat count, and the event's id (`(#123)`) to tell them apart."""
    texts = _EVENT.get(language, _EVENT["en"])
    template = texts.get(facts.kind, facts.kind)
    values = _Facts({k: _clip(redact(_text(v))) for k, v in facts.data.items()})
    if "lot_pnl" in facts.data:
        places_of = facts.data.get("tick") or facts.data.get("price", "")
        values["lot_pnl"] = at_price_precision(str(facts.data["lot_pnl"]), str(places_of))
    values.update(_in_words(language, facts.kind, facts.data))
    line = f"{facts.strategy} ({facts.data.get('symbol') or facts.symbol}): {template.format_map(values)}"
    if facts.count > 1:
        line += _REPEATS.get(language, _REPEATS["en"]).format(count=facts.count)
    return f"{line} (#{facts.id})"


def _in_words(language: str, kind: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The event's codes (who stopped, the cancel mode, a pause reason, a failover's gap) in the language's words."""
    words = _WORDS.get(language, _WORDS["en"])
    values: dict[str, str] = {}
    if kind == "stopped":
        by = str(data.get("by") or "unknown")  # a stop recorded before `by` was: unknown too
        values["by"] = words["by"].get(by, by)
        mode = str(data.get("cancel_mode") or "buys")
        values["cancel_mode"] = words["cancel_mode"].get(mode, mode)
    if kind in ("paused", "resumed", "handed_over") and data.get("reason"):
        reason = str(data["reason"])
        values["reason"] = _clip(redact(words["reason"].get(reason, reason)))
    if kind == "failed_over":
        # null when the dead run left no sign of life to measure from (its status hash had expired)
        gap = data.get("gap_seconds")
        values["gap"] = words["gap"]["unknown"] if gap is None else words["gap"]["seconds"].format(seconds=gap)
        # two workers on one machine share a hostname: their addresses tell them apart
        source, target = str(data.get("from_node") or "?"), str(data.get("to_node") or "?")
        if source == target and data.get("from_ip") != data.get("to_ip"):
            source, target = f"{source} ({data.get('from_ip') or '?'})", f"{target} ({data.get('to_ip') or '?'})"
        values["from_node"], values["to_node"] = _clip(redact(source)), _clip(redact(target))
    return values


def event_message(language: str, events: Sequence[EventFacts]) -> tuple[str, str]:
    """One event as its own message, or several as one digest."""
    lines = [event_line(language, e) for e in events]
    if len(events) == 1:
        return f"AresBot · {events[0].strategy}", lines[0]
    title = _DIGEST_TITLE.get(language, _DIGEST_TITLE["en"]).format(count=len(events))
    return title, "\n".join(lines)


_SUMMARY = {
    "en": {
        "title": "AresBot daily summary {day}",
        "pnl": "PnL {amount} {quote}",
        "none": "no closed lots",
        "body": "{pnl}\nfills: {fills}, cycles: {cycles}, open positions: {open}, errors: {errors}",
    },
    "zh-hans": {
        "title": "AresBot 每日汇总 {day}",
        "pnl": "盈亏 {amount} {quote}",
        "none": "没有平仓",
        "body": "{pnl}\n成交：{fills}，完成循环：{cycles}，持仓：{open}，错误：{errors}",
    },
}


@dataclass(frozen=True)
class DailyFacts:
    pnl: Mapping[str, str]  # per quote currency, at its precision
    fills: int
    cycles: int
    open_positions: int
    errors: int


def summary_message(language: str, day: str, facts: DailyFacts) -> tuple[str, str]:
    """The daily summary: PnL per quote currency, fills, cycles, open positions, errors."""
    texts = _SUMMARY.get(language, _SUMMARY["en"])
    lines = [texts["pnl"].format(amount=amount, quote=quote) for quote, amount in sorted(facts.pnl.items())]
    body = texts["body"].format(
        pnl="\n".join(lines) or texts["none"],
        fills=facts.fills,
        cycles=facts.cycles,
        open=facts.open_positions,
        errors=facts.errors,
    )
    return texts["title"].format(day=day), body

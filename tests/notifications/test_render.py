"""Messages in the channel's language: the codes an event carries (who stopped it, the cancel mode, a pause reason,
a failover's gap) are words in English and in Chinese, never the codes themselves."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.render import EventFacts, event_line


def line(language: str, kind: str, **data: Any) -> str:
    return event_line(language, EventFacts(5, kind, 1, "grid", "BTC/USDT", data))


@pytest.mark.parametrize(
    ("by", "en", "zh"),
    [
        ("owner", "stopped by its owner", "已由所有者停止"),
        ("admin", "stopped by an administrator", "已由管理员停止"),
        ("system", "stopped by the system", "已由系统停止"),
        ("unknown", "stopped by someone unknown", "已由未知停止"),
        (None, "stopped by someone unknown", "已由未知停止"),  # a stop recorded before `by` was
    ],
)
def test_who_stopped_is_said_in_words(by, en, zh):
    assert line("en", "stopped", by=by, cancel_mode="buys") == f"grid (BTC/USDT): {en}, cancelling its open buys (#5)"
    assert line("zh-hans", "stopped", by=by, cancel_mode="all") == f"grid (BTC/USDT): {zh}，撤销全部订单 (#5)"


@pytest.mark.parametrize(
    ("reason", "en", "zh"),
    [
        ("daily_loss_limit", "the daily loss limit is reached", "达到每日亏损上限"),
        ("cooldown", "the loss-streak cooldown", "连续亏损冷却"),
        ("max_positions", "the maximum of open positions is reached", "持仓数已达上限"),
        ("insufficient_funds", "insufficient funds", "资金不足"),
        ("exchange_down", "the exchange is unreachable", "交易所不可达"),
        ("market_rule", "a market rule", "市场规则"),
    ],
)
def test_pause_and_resume_reasons_are_said_in_words(reason, en, zh):
    assert line("en", "paused", reason=reason, detail="d") == f"grid (BTC/USDT): buys paused: {en} (d) (#5)"
    assert line("en", "resumed", reason=reason) == f"grid (BTC/USDT): buys resumed: {en} no longer holds them back (#5)"
    assert line("zh-hans", "paused", reason=reason, detail="d") == f"grid (BTC/USDT): 暂停买入：{zh}（d） (#5)"
    assert line("zh-hans", "resumed", reason=reason) == f"grid (BTC/USDT): 恢复买入：{zh}已解除 (#5)"
    assert "_" not in line("en", "resumed", reason=reason) + line("zh-hans", "resumed", reason=reason)  # no code


def test_a_handover_says_why_in_words():
    assert line("zh-hans", "handed_over", node="n1", reason="worker shutting down").endswith(
        "已由 n1 交接：工作进程正在关闭 (#5)"
    )


@pytest.mark.parametrize("gap", [None, "missing"])
def test_a_failover_whose_gap_is_not_known_says_unknown(gap):
    data: dict[str, Any] = {"from_node": "a", "to_node": "b"}
    if gap != "missing":
        data["gap_seconds"] = gap
    assert line("en", "failed_over", **data) == "grid (BTC/USDT): failed over from a to b (gap: unknown) (#5)"
    assert line("zh-hans", "failed_over", **data) == "grid (BTC/USDT): 已从 a 故障转移到 b，中断时长：未知 (#5)"


def test_a_failover_with_a_gap_says_its_seconds():
    assert line("en", "failed_over", from_node="a", to_node="b", gap_seconds=12.5).endswith("(gap: 12.5 s) (#5)")
    assert line("zh-hans", "failed_over", from_node="a", to_node="b", gap_seconds=12.5).endswith(
        "中断时长：12.5 秒 (#5)"
    )


def test_an_unknown_reason_code_is_printed_as_it_is():
    assert line("en", "paused", reason="new_rule", detail="x") == "grid (BTC/USDT): buys paused: new_rule (x) (#5)"


def test_a_failover_between_two_workers_of_one_machine_names_their_addresses():
    data = {"from_node": "vm", "from_ip": "10.0.0.5", "to_node": "vm", "to_ip": "10.0.0.6", "gap_seconds": 4}
    assert line("en", "failed_over", **data) == (
        "grid (BTC/USDT): failed over from vm (10.0.0.5) to vm (10.0.0.6) (gap: 4 s) (#5)"
    )
    # different machines: their names say enough
    assert "from a to b" in line("en", "failed_over", from_node="a", from_ip="1", to_node="b", to_ip="2")


def test_a_long_value_is_cut_at_a_word_with_an_ellipsis():
    message = "the exchange said " + "very " * 100 + "much"
    text = line("en", "error", error_class="ExchangeError", message=message)
    said = text.split("ExchangeError: ", 1)[1].removesuffix(" (#5)")
    assert said.endswith("very…")
    assert len(said) <= 300
    assert line("en", "error", error_class="E", message="short").endswith("E: short (#5)")

"""Message text per channel language (en, zh-hans)."""

from __future__ import annotations

_TEST = {
    "en": ("AresBot test message", "Channel “{name}” works: AresBot notifications will arrive here."),
    "zh-hans": ("AresBot 测试消息", "渠道“{name}”可用：AresBot 的通知将发送到这里。"),
}


def test_message(language: str, channel_name: str) -> tuple[str, str]:
    title, body = _TEST.get(language, _TEST["en"])
    return title, body.format(name=channel_name)

"""Apprise at the edges: check that a URL names a service without sending, send with short timeouts, and say why a
send failed without repeating the URL (it holds the channel's token or password)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import apprise
from apprise import NotifyBase

from accounts.crypto import mask
from aresbot.logging import redact

MAX_URL_LENGTH = 2000
# A channel that does not answer within this long is treated as failing; delivery is retried later, and a "send
# test" answers within about twice this (connect + read).
SEND_TIMEOUT_SECONDS = 5.0


def service_for(url: str) -> NotifyBase | None:
    """The apprise service a URL names, or None when apprise cannot read it (nothing is sent)."""
    if not url or len(url) > MAX_URL_LENGTH or url != url.strip():
        return None
    try:
        return apprise.Apprise.instantiate(url)
    except Exception:
        return None


def masked_url(url: str) -> str:
    """`tgram://****abcd`: the service's scheme (not a secret) and the accounts' credential mask of the rest."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[a-z0-9+.-]{1,20}", scheme, re.IGNORECASE):
        return mask(url)
    return f"{scheme.lower()}://{mask(rest)}"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    reason: str = ""


def scrub(text: str, url: str) -> str:
    """Remove every piece of the URL that could be a credential (user, password, token, host path) from text."""
    pieces = sorted({p for p in re.split(r"[:/@?&=#,]+", url.partition("://")[2]) if len(p) >= 4}, key=len)
    for piece in reversed(pieces):
        text = text.replace(piece, "****")
    return redact(text)


def send(url: str, title: str, body: str) -> SendResult:
    """Deliver one message through apprise; never raises for a delivery problem."""
    service = service_for(url)
    if service is None:
        return SendResult(False, "the channel's URL is not one apprise can use")
    service.socket_connect_timeout = SEND_TIMEOUT_SECONDS
    service.socket_read_timeout = SEND_TIMEOUT_SECONDS
    sender = apprise.Apprise()
    sender.add(service)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = bool(sender.notify(body=body, title=title))
        except Exception as exc:
            return SendResult(False, scrub(f"{type(exc).__name__}: {exc}", url)[:500])
        log = captured.getvalue() if hasattr(captured, "getvalue") else ""
    if ok:
        return SendResult(True)
    lines = [re.sub(r"^.*? - (WARNING|ERROR) - ", "", line).strip() for line in log.splitlines() if line.strip()]
    reason = "; ".join(dict.fromkeys(lines)) or "the service refused the message"
    return SendResult(False, scrub(reason, url)[:500])

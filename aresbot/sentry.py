"""Opt-in error reporting (SENTRY_DSN): sentry-sdk with the Django and RQ integrations, every event scrubbed.

Nothing personal is sent (`send_default_pii=False`), no request bodies (an account's POST carries its API secret)
and no local variables of stack frames (a frame holding a revealed key would ship it). What remains passes through
`scrub` before it leaves the process: every string through the logs' `redact` (key=value credentials, bearer and
API-token headers, a CCXT signed URL's signature), and any value under a key that names a credential replaced whole.
"""

from __future__ import annotations

import re
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.rq import RqIntegration
from sentry_sdk.transport import Transport

from aresbot.logging import redact

REDACTED = "[redacted]"
# A mapping key whose value is a credential however it looks (request headers, cookies, a settings dump, extra).
_SECRET_KEY = re.compile(
    r"api[_-]?key|apikey|secret|passphrase|passw|token|signature|authorization|cookie|session|csrf|private[_-]?key"
    r"|access[_-]?(key|sign)|dsn|encryption",
    re.IGNORECASE,
)


def scrub(value: Any) -> Any:
    """`value` with every string redacted and every value under a credential-naming key replaced, recursively."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) and value[key] else scrub(value[key])
            for key in value
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = scrub(event)
    return scrubbed


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = scrub(crumb)
    return scrubbed


def init_sentry(
    dsn: str, *, environment: str, traces_sample_rate: float = 0.0, transport: Transport | None = None
) -> None:
    """Start reporting to `dsn` from this process (settings.py calls it when SENTRY_DSN is set); `transport` is
    for tests, which capture the envelopes instead of sending them."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), RqIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        before_send=before_send,  # type: ignore[arg-type]
        before_breadcrumb=before_breadcrumb,
        transport=transport,
    )

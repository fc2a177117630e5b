"""Opt-in error reporting: what reaches Sentry has been through the logs' secret scrubbing (nothing leaves here:
the envelopes are captured by a local transport)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from aresbot.sentry import init_sentry, scrub

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SIGNED_URL = (
    f"https://api.binance.com/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1499827319559&signature={SECRET[:64]}"
)


class Captured(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        items = [item for envelope in self.envelopes for item in envelope.items if item.type == "event"]
        return [item.payload.json for item in items if item.payload.json is not None]


@pytest.fixture
def sentry() -> Iterator[Captured]:
    transport = Captured()
    init_sentry("https://public@sentry.invalid/1", environment="test", transport=transport)
    yield transport
    sentry_sdk.init()  # no DSN: reporting off again for the other tests


def test_an_event_with_secrets_everywhere_is_scrubbed_before_it_is_sent(sentry):
    sentry_sdk.add_breadcrumb(
        category="http", message=f"POST {SIGNED_URL}", data={"headers": {"X-MBX-APIKEY": API_KEY}, "apiKey": API_KEY}
    )
    with sentry_sdk.new_scope() as scope:
        scope.set_extra("request", {"url": SIGNED_URL, "headers": {"X-MBX-APIKEY": API_KEY}})
        scope.set_extra("note", f"apiKey={API_KEY}, Authorization: Bearer {SECRET}")
        scope.set_context("account", {"secret": SECRET, "name": "main"})
        try:
            raise RuntimeError(f"binance POST {SIGNED_URL} failed for apiKey={API_KEY}")
        except RuntimeError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush()
    [event] = sentry.events()
    payload = json.dumps(event)
    assert API_KEY not in payload
    assert SECRET not in payload
    assert SECRET[:64] not in payload
    [exception] = event["exception"]["values"]
    assert exception["value"] == (
        "binance POST https://api.binance.com/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1499827319559"
        "&signature=[redacted] failed for apiKey=[redacted]"
    )
    assert event["extra"]["note"] == "apiKey=[redacted], Authorization: Bearer [redacted]"
    assert event["extra"]["request"]["headers"] == {"X-MBX-APIKEY": "[redacted]"}
    assert event["contexts"]["account"] == {"secret": "[redacted]", "name": "main"}
    [crumb] = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "http"]
    assert crumb["message"].endswith("&signature=[redacted]")
    assert crumb["data"] == {"headers": {"X-MBX-APIKEY": "[redacted]"}, "apiKey": "[redacted]"}
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])  # no local variables sent


def test_a_logged_error_is_reported_scrubbed(sentry):
    try:
        raise ValueError(f"token={SECRET}")
    except ValueError:
        logging.getLogger("trading.runtime").exception("strategy 3: Authorization: Token ab_%s", API_KEY)
    sentry_sdk.flush()
    [event] = sentry.events()
    assert API_KEY not in json.dumps(event) and SECRET not in json.dumps(event)
    assert (event["level"], event["logger"]) == ("error", "trading.runtime")
    assert event["logentry"]["formatted"] == "strategy 3: Authorization: Token [redacted]"


def test_scrub_redacts_strings_and_values_under_credential_keys_at_any_depth():
    event = {
        "request": {
            "headers": {"Authorization": "Bearer abc", "Cookie": "sessionid=xyz", "Accept": "application/json"},
            "query_string": f"symbol=BTCUSDT&signature={SECRET}",
        },
        "list": [{"api_key": API_KEY}, f"passphrase={SECRET}"],
        "count": 3,
        "empty_token": "",
    }
    assert scrub(event) == {
        "request": {
            "headers": {"Authorization": "[redacted]", "Cookie": "[redacted]", "Accept": "application/json"},
            "query_string": "symbol=BTCUSDT&signature=[redacted]",
        },
        "list": [{"api_key": "[redacted]"}, "passphrase=[redacted]"],
        "count": 3,
        "empty_token": "",
    }

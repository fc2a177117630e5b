"""A `requests` transport for CCXT clients that refuses every connection: exchanges are unreachable, nothing is sent."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import BaseAdapter


class Offline(BaseAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        raise requests.ConnectionError(f"offline test: {request.url} not sent")

    def close(self) -> None:
        pass

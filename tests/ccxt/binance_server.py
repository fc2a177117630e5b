"""FakeBinance behind a real HTTP server on the loopback interface, for tests about real network I/O.

CCXT's requests go out over a socket (`adapter()` sends every request of a client to this server) and the server
answers them with FakeBinance, except the endpoints named in `hold`: those requests are held unanswered, as by an
exchange that accepts the connection and never replies, until the test calls `release()`. Meanwhile the test checks
what the rest of the system does while one request hangs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from tests.ccxt.fake_binance import FakeBinance

ORIGINAL_HOST = "X-Test-Original-Host"
HOLD_AT_MOST = 120.0  # seconds: a test that forgets release() still ends


class FakeBinanceServer:
    def __init__(self, fake: FakeBinance, *, hold: Iterable[tuple[str, str]] = ()) -> None:
        self.fake = fake
        self.hold = set(hold)
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.held = 0  # requests waiting unanswered right now
        self.ever_held = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-binance-server", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> FakeBinanceServer:
        self._thread.start()
        return self

    def release(self) -> None:
        """Answer every held request, and hold no more."""
        self._released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def adapter(self) -> HTTPAdapter:
        return _ToServer(self.fake, self.address)

    def answer(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> requests.Response:
        if (method, path) in self.hold and not self._released.is_set():
            with self._lock:
                self.held += 1
                self.ever_held += 1
            try:
                self._released.wait(HOLD_AT_MOST)
            finally:
                with self._lock:
                    self.held -= 1
        host = headers.pop(ORIGINAL_HOST, "api.binance.com")
        url = urlunsplit(("https", host, path, query, ""))
        prepared = requests.Request(method, url, headers=headers, data=body or None).prepare()
        return self.fake.send(prepared)


class _ToServer(HTTPAdapter):
    """Sends each request to the loopback server instead of its host, which travels in a header."""

    def __init__(self, fake: FakeBinance, address: str) -> None:
        super().__init__()
        self._fake = fake
        self._address = address

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = urlsplit(str(request.url))
        self._fake.check_no_transaction(str(request.method), url.path)  # in the sending thread, not the server's
        request.headers[ORIGINAL_HOST] = url.netloc
        request.url = urlunsplit(("http", self._address, url.path, url.query, ""))
        return super().send(request, *args, **kwargs)


def _handler(server: FakeBinanceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            response = server.answer(self.command, url.path, url.query, headers, body)
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test output is for the test

    return Handler

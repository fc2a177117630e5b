"""A webhook receiver on loopback for apprise's json:// URLs: records every body it accepts, and can be told to
refuse (HTTP 500) until told otherwise."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

EVENT_REF = re.compile(r"\(#(\d+)\)")


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.refused = 0
        self.failing = False
        # stalling: a request is held (not recorded) until `release` is set, then refused: a sender killed meanwhile
        self.stalling = False
        self.stalled = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.stalling:
                    with receiver.lock:
                        receiver.stalled += 1
                    receiver.release.wait(30)
                    try:
                        self.send_response(500)
                        self.end_headers()
                    except OSError:
                        pass  # the sender is gone
                    return
                with receiver.lock:
                    if receiver.failing:
                        receiver.refused += 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    if self.headers.get("Content-Type", "").startswith("application/json"):
                        receiver.bodies.append(json.loads(raw))
                    else:  # form:// posts the same fields form-encoded
                        receiver.bodies.append({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def messages(self) -> list[str]:
        with self.lock:
            return [str(b.get("message", "")) for b in self.bodies]

    def event_ids(self) -> list[int]:
        """Every event id the received messages cite, repeats included (a duplicate delivery shows twice)."""
        return [int(m) for text in self.messages() for m in EVENT_REF.findall(text)]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def running_receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver

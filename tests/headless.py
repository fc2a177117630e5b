"""The SPA's side of allauth's JSON API (/_allauth/browser/v1/…), as the browser speaks it: the session cookie, and the
CSRF token read from its cookie and sent back in X-CSRFToken on every write (Django checks it: the client enforces
CSRF like a browser)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

BASE = "/_allauth/browser/v1/"
SIGN_IN_IP = "203.0.113.7"


class HeadlessClient:
    def __init__(self, ip: str = SIGN_IN_IP) -> None:
        self.web = Client(enforce_csrf_checks=True, REMOTE_ADDR=ip)
        self.get("config")  # the SPA's first call; it also sets the CSRF cookie

    def get(self, path: str) -> Any:
        return self.web.get(BASE + path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._write("post", path, body)

    def delete(self, path: str) -> Any:
        return self._write("delete", path, None)

    def _write(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        return getattr(self.web, method)(
            BASE + path,
            json.dumps(body or {}),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=self.csrf_token(),
        )

    def csrf_token(self) -> str:
        # Read afresh each time, as the SPA does: Django rotates the token when someone signs in.
        cookie = self.web.cookies.get("csrftoken")
        return cookie.value if cookie else ""

    def sign_in(self, username: str, password: str | None = None) -> Any:
        return self.post("auth/login", {"username": username, "password": password or f"{username}-password"})

    def session(self) -> Any:
        return self.get("auth/session")

    def signed_in(self) -> bool:
        return bool(self.session().json()["meta"]["is_authenticated"])

    def api(self, path: str) -> Any:
        return self.web.get(path)


def error_codes(response: Any) -> list[str]:
    return [error["code"] for error in response.json().get("errors", [])]


def pending_flow(response: Any) -> dict[str, Any] | None:
    flows = response.json().get("data", {}).get("flows", [])
    return next((flow for flow in flows if flow.get("is_pending")), None)

"""A fake GitHub for the sign-in tests: a small HTTP server on 127.0.0.1 that answers the OAuth token, user and
organisations endpoints, so allauth's real OAuth flow runs over real HTTP; only GitHub itself is replaced."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from django.test import Client
from django.urls import reverse

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"


@dataclass
class GitHubUser:
    login: str
    id: int
    name: str
    orgs: list[str] = field(default_factory=list)


@dataclass
class FakeGitHub:
    """GitHub's OAuth and REST endpoints, as far as the sign-in uses them."""

    url: str = ""
    users_by_code: dict[str, GitHubUser] = field(default_factory=dict)
    users_by_token: dict[str, GitHubUser] = field(default_factory=dict)
    orgs_status: int = 200
    orgs_body: Any = None  # replaces the organisations list when set, to simulate a malformed answer
    requests: list[tuple[str, str]] = field(default_factory=list)

    def add_user(self, login: str, id: int, name: str, orgs: list[str] | None = None) -> str:
        """Register a GitHub user and return the authorisation code GitHub would hand back for them."""
        code = f"code-{id}"
        self.users_by_code[code] = GitHubUser(login, id, name, orgs or [])
        return code

    def paths(self) -> list[str]:
        return [path.split("?")[0] for _, path in self.requests]


def _make_handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

        def _send_json(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _user(self) -> GitHubUser | None:
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            return github.users_by_token.get(token) if scheme.lower() == "token" else None

        def do_POST(self) -> None:
            github.requests.append(("POST", self.path))
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path != "/login/oauth/access_token":
                self._send_json(404, {"message": "Not Found"})
                return
            user = github.users_by_code.get(form.get("code", ""))
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET or user is None:
                # GitHub answers a bad code or client secret with 200 and an error field.
                self._send_json(200, {"error": "bad_verification_code"})
                return
            token = f"gho_token_{user.id}"
            github.users_by_token[token] = user
            self._send_json(200, {"access_token": token, "token_type": "bearer", "scope": "read:org,read:user"})

        def do_GET(self) -> None:
            github.requests.append(("GET", self.path))
            path = self.path.split("?")[0]
            user = self._user()
            if user is None:
                self._send_json(401, {"message": "Bad credentials"})
            elif path == "/api/v3/user":
                self._send_json(200, {"login": user.login, "id": user.id, "name": user.name})
            elif path == "/api/v3/user/orgs":
                if github.orgs_status != 200:
                    self._send_json(github.orgs_status, {"message": "Server Error"})
                elif github.orgs_body is not None:
                    self._send_json(200, github.orgs_body)
                else:
                    self._send_json(200, [{"login": org, "id": 1000 + n} for n, org in enumerate(user.orgs)])
            else:
                self._send_json(404, {"message": "Not Found"})

    return Handler


@pytest.fixture
def github(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub on a random local port, with allauth's GitHub adapter and app settings pointed at it."""
    fake = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    # The adapter computes its URLs once, at import, from the settings of the time; overriding settings is too late.
    monkeypatch.setattr(GitHubOAuth2Adapter, "web_url", fake.url)
    monkeypatch.setattr(GitHubOAuth2Adapter, "api_url", f"{fake.url}/api/v3")
    monkeypatch.setattr(GitHubOAuth2Adapter, "access_token_url", f"{fake.url}/login/oauth/access_token")
    monkeypatch.setattr(GitHubOAuth2Adapter, "authorize_url", f"{fake.url}/login/oauth/authorize")
    monkeypatch.setattr(GitHubOAuth2Adapter, "profile_url", f"{fake.url}/api/v3/user")
    monkeypatch.setattr(GitHubOAuth2Adapter, "emails_url", f"{fake.url}/api/v3/user/emails")
    # A proxy set in a developer's environment must not intercept the calls to 127.0.0.1.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    settings.GITHUB_CLIENT_ID = CLIENT_ID
    settings.GITHUB_CLIENT_SECRET = CLIENT_SECRET
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {
            "SCOPE": ["read:user", "read:org"],
            "APP": {"client_id": CLIENT_ID, "secret": CLIENT_SECRET, "key": ""},
        }
    }
    settings.ALLOWED_GITHUB_USERS = []
    settings.ALLOWED_GITHUB_ORGS = []
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def start_github_login(client: Client, github: FakeGitHub) -> str:
    """POST to allauth's GitHub login view and return the state it sent along to GitHub's authorize page."""
    return authorize_state(client.post(reverse("github_login")), github)


def authorize_state(response: Any, github: FakeGitHub) -> str:
    """The state of a redirect to GitHub's authorize page, after checking what the redirect asks GitHub for."""
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{github.url}/login/oauth/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://testserver" + reverse("github_callback")]
    assert "read:org" in query["scope"][0].split()
    state = query["state"][0]
    assert len(state) >= 8
    return state


def sign_in_with_github(client: Client, github: FakeGitHub, code: str) -> Any:
    """The whole round trip a browser makes: our login view, GitHub's authorize page, our callback."""
    state = start_github_login(client, github)
    return client.get(reverse("github_callback"), {"code": code, "state": state})

"""Password guessing is limited at every door: after LOGIN_FAILURE_LIMIT failures of one username from one address,
the admin's login, /api/auth/login/ and allauth's /accounts/login/ refuse that pair for a while, even with the right
password. The counts live in Redis (the Django cache), so every web process shares them."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import make_user
from tests.processes import free_port, wait_until
from tests.runtime.cluster import ROOT, worker_env

pytestmark = pytest.mark.usefixtures("fresh_cache")


@dataclass(frozen=True)
class Door:
    path: str
    username_field: str
    signed_in_status: int = 302  # each door redirects onwards after a sign-in and shows the form again after a failure

    def sign_in(self, client: Client, username: str, password: str, ip: str = "203.0.113.7") -> Any:
        return client.post(self.path, {self.username_field: username, "password": password}, REMOTE_ADDR=ip)


DOORS = {
    "admin": Door("/admin/login/?next=/admin/", "username"),
    "api-auth": Door("/api/auth/login/", "username"),
    "allauth": Door("/accounts/login/", "login"),
}


@pytest.fixture
def staff(db: Any) -> User:
    return make_user("alice", is_staff=True)  # staff, so the admin's door opens for her too


def signed_in(client: Client) -> bool:
    return client.session.get("_auth_user_id") is not None


def guess(door: Door, times: int, username: str = "alice", ip: str = "203.0.113.7") -> list[int]:
    """Wrong passwords; the statuses answered: the form again (200), or 429 from the guess that hit the limit."""
    return [door.sign_in(Client(), username, "not-the-password", ip).status_code for _ in range(times)]


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_after_the_limit_even_the_right_password_is_refused_with_a_clear_message(staff, settings, door):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert guess(door, 5) == [200, 200, 200, 200, 429]

    client = Client()
    response = door.sign_in(client, "alice", "alice-password")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert "refused for 15 minutes, even with the right password" in page
    assert response["Retry-After"] == "900"
    assert not signed_in(client)


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_below_the_limit_the_right_password_works_and_starts_the_count_afresh(staff, door):
    assert guess(door, 4) == [200] * 4
    client = Client()
    assert door.sign_in(client, "alice", "alice-password").status_code == door.signed_in_status
    assert signed_in(client)
    assert guess(door, 4) == [200] * 4  # counted from zero again: four more mistakes do not lock her out
    assert door.sign_in(Client(), "alice", "alice-password").status_code == door.signed_in_status


def test_the_doors_share_one_count_and_the_case_of_the_username_does_not_matter(staff):
    for name, case in zip(DOORS, ("alice", "ALICE", "aLiCe"), strict=True):
        assert guess(DOORS[name], 1, username=case) == [200]
    # Five in all, spread over three doors and four spellings.
    assert guess(DOORS["allauth"], 2, username="Alice") == [200, 429]

    for door in DOORS.values():
        assert door.sign_in(Client(), "alice", "alice-password").status_code == 429


def test_the_lockout_is_per_username_and_address(staff):
    bob = make_user("bob")
    door = DOORS["allauth"]
    assert guess(door, 5, ip="203.0.113.7")[-1] == 429

    assert door.sign_in(Client(), "alice", "alice-password", ip="203.0.113.7").status_code == 429
    # The guesser cannot lock Alice out from her own address, nor Bob out from the guesser's.
    assert door.sign_in(Client(), "alice", "alice-password", ip="198.51.100.20").status_code == 302
    assert door.sign_in(Client(), bob.username, "bob-password", ip="203.0.113.7").status_code == 302


def test_a_script_asking_for_json_gets_the_message_as_json(staff):
    door = DOORS["api-auth"]
    guess(door, 5)
    response = Client().post(
        door.path,
        {"username": "alice", "password": "alice-password"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 429
    assert "even with the right password" in response.json()["detail"]


def test_an_unknown_username_is_limited_like_a_known_one(db):
    door = DOORS["allauth"]
    assert guess(door, 5, username="nobody") == [200, 200, 200, 200, 429]


@pytest.mark.slow
def test_the_lockout_ends_after_its_time(staff, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    door = DOORS["admin"]  # allauth's door also brakes repeated failures per address, which the polling would hit
    guess(door, 5)
    assert door.sign_in(Client(), "alice", "alice-password").status_code == 429
    wait_until(lambda: door.sign_in(Client(), "alice", "alice-password").status_code == 302, 10, "the lockout to end")


# --- two web processes, one count ----------------------------------------------------------------------------------


class WebServer:
    """`manage.py runserver` in a process of its own: one of several web processes behind the same Redis."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 60, f"the web server on port {self.port}")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def sign_in(self, username: str, password: str) -> requests.Response:
        session = requests.Session()
        form = session.get(f"{self.url}/accounts/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token is not None
        data = {"login": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
        return session.post(f"{self.url}/accounts/login/", data=data, allow_redirects=False, timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def web_processes(transactional_db: Any) -> Iterator[Callable[[str], WebServer]]:
    """Starts web processes on this test's database and the given Redis; stops them afterwards."""
    servers: list[WebServer] = []

    def start(redis_url: str) -> WebServer:
        servers.append(WebServer(worker_env(redis_url, ALLOWED_HOSTS="127.0.0.1")))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.mark.slow
def test_failures_counted_by_one_web_process_lock_out_at_another(web_processes, settings):
    make_user("alice")
    first, second = web_processes(settings.REDIS_URL), web_processes(settings.REDIS_URL)
    statuses = [server.sign_in("alice", "not-the-password").status_code for server in (first, second) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]  # the fifth, counted by `first`, reached the limit
    refused = second.sign_in("alice", "alice-password")
    assert refused.status_code == 429
    assert "even with the right password" in refused.text


@pytest.mark.slow
def test_a_sign_in_while_redis_is_away_is_a_503_that_says_so(web_processes):
    """The failure counts live in Redis: without it no door can tell whether to refuse, so none opens."""
    make_user("alice")
    server = web_processes(f"redis://127.0.0.1:{free_port()}/0")
    response = server.sign_in("alice", "alice-password")
    assert response.status_code == 503
    assert "Redis" in response.text
    assert "sessionid" not in response.cookies

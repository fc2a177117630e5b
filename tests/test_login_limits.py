"""Password and code guessing is limited at every door: after LOGIN_FAILURE_LIMIT failures (wrong passwords or wrong
two-factor codes) of one username from one address, allauth's /accounts/login/, the SPA's
/_allauth/browser/v1/auth/login and the two-factor step of both refuse that pair for a while, even with the right
password or code. The counts live in Redis (the Django cache), so every web process shares them. (The admin's and
the browsable API's login forms lead to /accounts/login/: tests/test_headless_login.py.)"""

from __future__ import annotations

import json
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

from tests.conftest import TotpClock
from tests.factories import make_two_factor, make_user
from tests.headless import HeadlessClient, error_codes, pending_flow
from tests.processes import free_port, wait_until
from tests.runtime.cluster import ROOT, worker_env

pytestmark = pytest.mark.usefixtures("fresh_cache")


@dataclass(frozen=True)
class Door:
    path: str
    username_field: str
    json: bool = False
    failed_status: int = 200  # the page shows its form again after a failure, and redirects onwards after a sign-in
    signed_in_status: int = 302

    def sign_in(self, client: Client, username: str, password: str, ip: str = "203.0.113.7") -> Any:
        data = {self.username_field: username, "password": password}
        if self.json:
            return client.post(self.path, json.dumps(data), content_type="application/json", REMOTE_ADDR=ip)
        return client.post(self.path, data, REMOTE_ADDR=ip)


DOORS = {
    "allauth": Door("/accounts/login/", "login"),
    "spa": Door("/_allauth/browser/v1/auth/login", "username", json=True, failed_status=400, signed_in_status=200),
}


@pytest.fixture
def staff(db: Any) -> User:
    return make_user("alice", is_staff=True)


def signed_in(client: Client) -> bool:
    return client.session.get("_auth_user_id") is not None


def guess(door: Door, times: int, username: str = "alice", ip: str = "203.0.113.7") -> list[int]:
    """Wrong passwords; the statuses answered: a failure (the form again, or the SPA's 400), or 429 from the guess
    that hit the limit."""
    return [door.sign_in(Client(), username, "not-the-password", ip).status_code for _ in range(times)]


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_after_the_limit_even_the_right_password_is_refused_with_a_clear_message(staff, settings, door):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert guess(door, 5) == [door.failed_status] * 4 + [429]

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
    assert guess(door, 4) == [door.failed_status] * 4
    client = Client()
    assert door.sign_in(client, "alice", "alice-password").status_code == door.signed_in_status
    assert signed_in(client)
    assert guess(door, 4) == [door.failed_status] * 4  # counted from zero again: four more mistakes do not lock her out
    assert door.sign_in(Client(), "alice", "alice-password").status_code == door.signed_in_status


def test_the_doors_share_one_count_and_the_case_of_the_username_does_not_matter(staff):
    page, spa = DOORS["allauth"], DOORS["spa"]
    assert guess(page, 1, username="alice") + guess(spa, 1, username="ALICE") == [200, 400]
    assert guess(page, 1, username="aLiCe") + guess(spa, 1, username="alicE") == [200, 400]
    # Five in all, spread over two doors and five spellings.
    assert guess(page, 1, username="Alice") == [429]

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
    door = DOORS["allauth"]
    guess(door, 5)
    response = Client().post(
        door.path,
        {"login": "alice", "password": "alice-password"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 429
    assert "even with the right password" in response.json()["detail"]


def test_the_spa_gets_the_message_in_the_shape_of_allauths_errors(staff):
    door = DOORS["spa"]
    guess(door, 5)
    response = door.sign_in(Client(), "alice", "alice-password")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    (error,) = response.json()["errors"]
    assert error["code"] == "locked_out"
    assert "refused for 15 minutes, even with the right password" in error["message"]


def test_an_unknown_username_is_limited_like_a_known_one(db):
    door = DOORS["allauth"]
    assert guess(door, 5, username="nobody") == [200, 200, 200, 200, 429]


@pytest.mark.slow
def test_the_lockout_ends_after_its_time(staff, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    settings.ACCOUNT_RATE_LIMITS = False  # allauth's own brake on failures per address, which the polling would hit
    door = DOORS["allauth"]
    guess(door, 5)
    assert door.sign_in(Client(), "alice", "alice-password").status_code == 429
    wait_until(lambda: door.sign_in(Client(), "alice", "alice-password").status_code == 302, 10, "the lockout to end")


# --- the second factor: someone who has the password cannot guess the code either --------------------------------


@pytest.fixture
def alice_with_totp(staff: User, totp_clock: TotpClock) -> User:
    make_two_factor(staff)
    return staff


def spa_at_the_code_step(ip: str = "203.0.113.7") -> HeadlessClient:
    spa = HeadlessClient(ip=ip)
    assert pending_flow(spa.sign_in("alice"))["id"] == "mfa_authenticate"  # type: ignore[index]
    return spa


def test_wrong_codes_at_the_spa_lock_the_pair_out_even_for_the_right_code(alice_with_totp, totp_clock):
    spa = spa_at_the_code_step()
    statuses = [spa.post("auth/2fa/authenticate", {"code": "000000"}).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]

    refused = spa.post("auth/2fa/authenticate", {"code": totp_clock.code()})
    assert refused.status_code == 429
    assert error_codes(refused) == ["locked_out"]
    assert not spa.signed_in()
    assert pending_flow(spa.session()) is None  # back to the password, which is refused as well
    assert DOORS["spa"].sign_in(Client(), "alice", "alice-password").status_code == 429


def test_wrong_codes_at_the_server_page_lock_the_pair_out(alice_with_totp, totp_clock):
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert DOORS["allauth"].sign_in(client, "alice", "alice-password")["Location"] == "/accounts/2fa/authenticate/"
    statuses = [client.post("/accounts/2fa/authenticate/", {"code": "000000"}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]

    refused = client.post("/accounts/2fa/authenticate/", {"code": totp_clock.code()})
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert not signed_in(client)


def test_wrong_passwords_and_wrong_codes_add_up(alice_with_totp):
    assert guess(DOORS["spa"], 3) == [400, 400, 400]
    spa = spa_at_the_code_step()
    statuses = [spa.post("auth/2fa/authenticate", {"code": "000000"}).status_code for _ in range(2)]
    assert statuses == [400, 429]


def test_the_right_code_below_the_limit_signs_in_and_starts_the_count_afresh(alice_with_totp, totp_clock):
    spa = spa_at_the_code_step()
    assert [spa.post("auth/2fa/authenticate", {"code": "000000"}).status_code for _ in range(4)] == [400] * 4
    assert spa.post("auth/2fa/authenticate", {"code": totp_clock.code()}).status_code == 200
    assert guess(DOORS["spa"], 4) == [400] * 4


def test_code_guesses_from_one_address_do_not_lock_her_out_at_another(alice_with_totp, totp_clock):
    guesser = spa_at_the_code_step()
    for _ in range(5):
        guesser.post("auth/2fa/authenticate", {"code": "000000"})
    alice = spa_at_the_code_step(ip="198.51.100.20")
    assert alice.post("auth/2fa/authenticate", {"code": totp_clock.code()}).status_code == 200


def test_wrong_codes_when_confirming_a_change_count_too(alice_with_totp, totp_clock):
    spa = spa_at_the_code_step()
    spa.post("auth/2fa/authenticate", {"code": totp_clock.code()})
    totp_clock.next_period()
    statuses = [spa.post("auth/2fa/reauthenticate", {"code": "000000"}).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    assert spa.post("auth/2fa/reauthenticate", {"code": totp_clock.code()}).status_code == 429
    assert spa.signed_in()  # her session stays; the change she wanted to confirm waits


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

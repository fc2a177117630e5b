"""Login: GitHub sign-in limited to an allow-list, local username/password, and the API closed to anonymous callers.

The GitHub tests drive allauth's real OAuth flow with Django's test client against a fake GitHub on 127.0.0.1
(tests/fake_github.py, the `github` fixture), so the exchange happens over real HTTP.
"""

from __future__ import annotations

import smtplib
import socket
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from django.contrib.auth.models import User
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.fake_github import CLIENT_ID, FakeGitHub, sign_in_with_github, start_github_login

pytestmark = pytest.mark.usefixtures("fresh_cache")


def session_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def refused_without_trace(response: Any, text: str) -> None:
    assert response.status_code == 403
    assert text in response.content.decode()
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


# --- GitHub allow-list ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_listed_github_user_signs_in_whatever_the_case_of_their_login(client: Client, github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    code = github.add_user("Alice-GH", 101, "Alice Liddell")

    response = sign_in_with_github(client, github, code)

    assert response.status_code == 302
    assert response["Location"] == "/"
    account = SocialAccount.objects.get(provider="github", uid="101")
    assert account.extra_data["login"] == "Alice-GH"
    assert account.user.username == "Alice-GH"
    assert session_user_id(client) == str(account.user.pk)
    assert client.get("/").status_code == 200
    # Listed by name, so GitHub's organisations API is not consulted.
    assert github.paths() == ["/login/oauth/access_token", "/api/v3/user"]


@pytest.mark.django_db
def test_a_github_user_not_on_the_list_is_refused_and_nothing_is_stored(client: Client, github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    settings.ALLOWED_GITHUB_ORGS = ["ares-traders"]
    code = github.add_user("bob-gh", 202, "Bob Builder", orgs=["some-other-org"])

    response = sign_in_with_github(client, github, code)

    refused_without_trace(response, "is not on the allow-list")
    assert "bob-gh" in response.content.decode()
    assert session_user_id(client) is None
    assert "/api/v3/user/orgs" in github.paths()


@pytest.mark.django_db
def test_a_member_of_an_allowed_organisation_signs_in(client: Client, github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_ORGS = ["ares-traders"]
    code = github.add_user("bob-gh", 202, "Bob Builder", orgs=["knitting-club", "Ares-Traders"])

    response = sign_in_with_github(client, github, code)

    assert response.status_code == 302
    account = SocialAccount.objects.get(provider="github", uid="202")
    assert session_user_id(client) == str(account.user.pk)
    assert ("GET", "/api/v3/user/orgs?per_page=100") in github.requests


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["server_error", "not_a_list", "unreachable"])
def test_it_refuses_cleanly_when_github_organisations_cannot_be_read(
    client: Client, github: FakeGitHub, settings, monkeypatch: pytest.MonkeyPatch, failure: str
):
    settings.ALLOWED_GITHUB_ORGS = ["ares-traders"]
    code = github.add_user("bob-gh", 202, "Bob Builder", orgs=["ares-traders"])
    if failure == "server_error":
        github.orgs_status = 500
    elif failure == "not_a_list":
        github.orgs_body = {"message": "API rate limit exceeded"}
    else:
        with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        monkeypatch.setattr(GitHubOAuth2Adapter, "api_url", f"http://127.0.0.1:{dead_port}/api/v3")

    response = sign_in_with_github(client, github, code)

    refused_without_trace(response, "could not be read from GitHub")
    assert session_user_id(client) is None


@pytest.mark.django_db
def test_with_no_allow_list_github_sign_in_is_closed_and_the_login_page_says_so(client: Client, github: FakeGitHub):
    page = client.get(reverse("account_login")).content.decode()
    assert "GitHub sign-in is closed" in page
    assert "ALLOWED_GITHUB_USERS" in page
    assert reverse("github_login") not in page

    code = github.add_user("alice-gh", 101, "Alice Liddell", orgs=["ares-traders"])
    response = sign_in_with_github(client, github, code)

    refused_without_trace(response, "no allow-list is configured")
    assert "/api/v3/user/orgs" not in github.paths()


@pytest.mark.django_db
def test_a_github_user_removed_from_the_list_can_no_longer_sign_in(github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    code = github.add_user("alice-gh", 101, "Alice Liddell")
    first_visit = Client()
    assert sign_in_with_github(first_visit, github, code).status_code == 302
    alice = User.objects.get()

    settings.ALLOWED_GITHUB_USERS = ["bob-gh"]
    second_visit = Client()
    response = sign_in_with_github(second_visit, github, code)

    assert response.status_code == 403
    assert "is not on the allow-list" in response.content.decode()
    assert session_user_id(second_visit) is None
    assert second_visit.get("/api/strategies").status_code == 401  # not signed in
    assert list(User.objects.all()) == [alice]


@pytest.mark.django_db
def test_a_github_login_equal_to_a_local_username_does_not_take_over_the_local_account(
    client: Client, github: FakeGitHub, settings, alice: User
):
    settings.ALLOWED_GITHUB_USERS = ["alice"]
    code = github.add_user("alice", 101, "Alice Liddell")

    response = sign_in_with_github(client, github, code)

    assert response.status_code == 302
    account = SocialAccount.objects.get(provider="github", uid="101")
    assert account.user_id != alice.pk
    assert session_user_id(client) == str(account.user_id)
    assert not SocialAccount.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_a_callback_with_a_forged_state_is_refused_before_talking_to_github(
    client: Client, github: FakeGitHub, settings
):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    code = github.add_user("alice-gh", 101, "Alice Liddell")
    start_github_login(client, github)

    response = client.get(reverse("github_callback"), {"code": code, "state": "forged-state"})

    assert response.status_code == 401
    assert "Sign-in failed" in response.content.decode()
    assert github.requests == []
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_wrong_client_secret_fails_the_sign_in_without_an_error_500(client: Client, github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {
            "SCOPE": ["read:user", "read:org"],
            "APP": {"client_id": CLIENT_ID, "secret": "not-the-secret", "key": ""},
        }
    }
    code = github.add_user("alice-gh", 101, "Alice Liddell")

    response = sign_in_with_github(client, github, code)

    assert response.status_code == 401
    assert github.paths() == ["/login/oauth/access_token"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_the_login_page_offers_github_when_an_allow_list_is_set(client: Client, github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_ORGS = ["ares-traders"]

    page = client.get(reverse("account_login"), {"next": "/strategies"}).content.decode()

    assert "Sign in with GitHub" in page
    assert f'action="{reverse("github_login")}?' in page
    assert "next=%2Fstrategies" in page
    assert "GitHub sign-in is closed" not in page


# --- local login -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_github_the_login_page_offers_local_login_only(client: Client, settings):
    settings.GITHUB_CLIENT_ID = ""

    page = client.get(reverse("account_login")).content.decode()

    assert "Local login only" in page
    assert "Sign in with GitHub" not in page
    assert 'name="login"' in page
    assert 'name="password"' in page
    assert 'name="csrfmiddlewaretoken"' in page


@pytest.mark.django_db
def test_a_local_user_signs_in_with_username_and_password(client: Client, alice: User):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "alice-password"})

    assert response.status_code == 302
    assert session_user_id(client) == str(alice.pk)
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_a_local_user_returns_to_the_page_they_asked_for(client: Client, alice: User):
    response = client.post(
        reverse("account_login"), {"login": "alice", "password": "alice-password", "next": "/strategies"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/strategies"


@pytest.mark.django_db
def test_a_wrong_password_shows_an_error_and_signs_nobody_in(client: Client, alice: User):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "not-alices-password"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errors"' in page
    assert "not correct" in page
    assert session_user_id(client) is None


@pytest.mark.django_db
def test_a_deactivated_local_user_cannot_sign_in(client: Client, alice: User):
    alice.is_active = False
    alice.save()

    response = client.post(reverse("account_login"), {"login": "alice", "password": "alice-password"}, follow=True)

    assert "Account inactive" in response.content.decode()
    assert session_user_id(client) is None


@pytest.mark.django_db
def test_an_empty_form_names_the_missing_fields(client: Client):
    response = client.post(reverse("account_login"), {"login": "", "password": ""})

    assert response.status_code == 200
    assert response.content.decode().count('class="field-error"') == 2


@pytest.mark.django_db
def test_self_service_sign_up_is_closed(client: Client):
    assert "Sign-up is closed" in client.get(reverse("account_signup")).content.decode()

    client.post(
        reverse("account_signup"),
        {"username": "mallory", "password1": "Str0ng-pass-phrase", "password2": "Str0ng-pass-phrase"},
    )

    assert not User.objects.filter(username="mallory").exists()
    assert session_user_id(client) is None


# --- the API without credentials -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/accounts", "/api/strategies", "/api/trades", "/api/trades/stats", "/api/tokens"]
)
def test_the_api_answers_anonymous_callers_with_401(path: str):
    response = APIClient().get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token realm="api"'


@pytest.mark.django_db
def test_health_answers_without_credentials():
    assert APIClient().get("/health").status_code == 200
    # 200 with Redis up, 503 without it; never a demand for credentials.
    assert APIClient().get("/health/redis").status_code not in (401, 403)


@pytest.mark.django_db
def test_an_unknown_api_token_is_refused(alice: User):
    response = APIClient().get("/api/accounts", HTTP_AUTHORIZATION="Token xyz")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token realm="api"'


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["Token", "Bearer"])
def test_a_valid_api_token_authenticates_its_owner(alice: User, keyword: str):
    _, raw = ApiToken.objects.issue(alice, "ci")

    response = APIClient().get("/api/tokens", HTTP_AUTHORIZATION=f"{keyword} {raw}")

    assert response.status_code == 200
    assert [token["name"] for token in response.json()["results"]] == ["ci"]


@pytest.mark.django_db
def test_a_session_write_without_a_csrf_token_is_refused(alice: User):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password="alice-password")

    response = client.post("/api/tokens", {"name": "laptop"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_a_session_write_with_the_csrf_token_is_accepted(alice: User):
    token, _ = ApiToken.objects.issue(alice, "laptop")
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password="alice-password")
    client.get("/")  # the page sets the CSRF cookie, as the browser would receive it

    response = client.delete(f"/api/tokens/{token.pk}", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    assert response.status_code == 204
    assert not ApiToken.objects.exists()


# --- password reset (issue 9 item 17): never a 500, whether or not mail is set up ----------------------------------


class RefusingMailServer(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPConnectError(421, b"Service not available")


@pytest.mark.django_db
def test_without_a_mail_server_password_reset_says_to_ask_an_administrator(settings, mailoutbox):
    settings.PASSWORD_RESET_BY_EMAIL = False
    User.objects.create_user("carol", email="carol@example.com", password="carol-password")
    web = Client()
    for response in (
        web.get(reverse("account_reset_password")),
        web.post(reverse("account_reset_password"), {"email": "carol@example.com"}),
    ):
        assert response.status_code == 200
        assert b"Ask an administrator" in response.content
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_mail_server_that_refuses_is_not_a_500(settings, caplog):
    settings.PASSWORD_RESET_BY_EMAIL = True
    settings.EMAIL_BACKEND = "tests.test_login.RefusingMailServer"
    User.objects.create_user("carol", email="carol@example.com", password="carol-password")
    r = Client().post(reverse("account_reset_password"), {"email": "carol@example.com"})
    assert r.status_code == 302  # on to allauth's "check your mail" page, as for any address
    assert "could not send the password_reset_key email" in caplog.text

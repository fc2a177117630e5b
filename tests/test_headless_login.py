"""The SPA's sign-in: allauth's JSON API for browsers (/_allauth/browser/v1/), with the session cookie and CSRF like
the rest of the site, and the same rules as the server pages: local users, GitHub users on the allow-list, no
sign-up. The admin's and the browsable API's login forms lead to allauth's page, the one door for passwords."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.factories import make_user
from tests.fake_github import FakeGitHub, authorize_state
from tests.headless import BASE, HeadlessClient, error_codes

pytestmark = [pytest.mark.usefixtures("fresh_cache"), pytest.mark.django_db]


def test_the_spa_signs_in_and_out_with_its_session_cookie_and_the_csrf_token(alice: User):
    spa = HeadlessClient()
    anonymous = spa.session()
    assert anonymous.status_code == 401
    assert {"id": "login"} in anonymous.json()["data"]["flows"]
    assert spa.csrf_token(), "the config call hands the SPA its CSRF cookie"

    forged = spa.web.post(
        BASE + "auth/login", {"username": "alice", "password": "alice-password"}, content_type="application/json"
    )
    assert forged.status_code == 403  # no X-CSRFToken: another site's form cannot sign anyone in
    # Said in allauth's JSON shape, which the SPA shows as the sign-in form's message (not Django's HTML page).
    [error] = forged.json()["errors"]
    assert error["code"] == "csrf" and "CSRF token" in error["message"] and "reload the page" in error["message"]
    assert not spa.signed_in()

    response = spa.sign_in("alice")
    assert response.status_code == 200
    user = response.json()["data"]["user"]
    assert (user["username"], user["mfa_setup_required"]) == ("alice", False)
    assert spa.api("/api/tokens").status_code == 200  # the API takes the same session

    assert spa.delete("auth/session").status_code == 401
    assert not spa.signed_in()
    assert spa.api("/api/tokens").status_code == 401


def test_a_wrong_password_names_the_field_and_signs_nobody_in(alice: User):
    spa = HeadlessClient()
    response = spa.sign_in("alice", "not-alices-password")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "message": "The username and/or password you specified are not correct.",
            "code": "username_password_mismatch",
            "param": "password",
        }
    ]
    assert not spa.signed_in()


def test_an_inactive_user_cannot_sign_in(alice: User):
    alice.is_active = False
    alice.save()
    spa = HeadlessClient()
    assert spa.sign_in("alice").status_code in (400, 401)
    assert not spa.signed_in()


def test_sign_up_is_closed_here_too():
    spa = HeadlessClient()
    response = spa.post("auth/signup", {"username": "mallory", "password": "Str0ng-pass-phrase"})
    assert response.status_code == 403
    assert not User.objects.filter(username="mallory").exists()
    assert not spa.get("config").json()["data"]["account"]["is_open_for_signup"]


def test_the_spa_changes_its_password(alice: User):
    spa = HeadlessClient()
    spa.sign_in("alice")
    wrong = spa.post("account/password/change", {"current_password": "nope", "new_password": "N3w-pass-phrase!"})
    assert wrong.status_code == 400
    assert error_codes(wrong) == ["enter_current_password"]
    changed = spa.post(
        "account/password/change", {"current_password": "alice-password", "new_password": "N3w-pass-phrase!"}
    )
    assert changed.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("N3w-pass-phrase!")
    assert spa.signed_in()  # the session that changed it stays signed in


# --- GitHub through the SPA ------------------------------------------------------------------------------------------


def test_the_config_says_how_one_may_sign_in(settings):
    settings.GITHUB_CLIENT_ID = ""
    settings.SOCIALACCOUNT_PROVIDERS = {"github": {"SCOPE": ["read:user"]}}
    config = HeadlessClient().get("config").json()
    assert config["data"]["socialaccount"]["providers"] == []
    assert config["data"]["account"]["login_methods"] == ["username"]
    assert config["data"]["mfa"]["supported_types"] == ["totp", "recovery_codes"]
    assert config["meta"] == {"github_allow_list_configured": False, "mfa_required": False}


def test_the_config_offers_github_once_it_is_set_up_with_an_allow_list(github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_ORGS = ["ares-traders"]
    config = HeadlessClient().get("config").json()
    assert [provider["id"] for provider in config["data"]["socialaccount"]["providers"]] == ["github"]
    assert config["meta"]["github_allow_list_configured"] is True


def sign_in_with_github_from_the_spa(spa: HeadlessClient, github: FakeGitHub, code: str, callback: str) -> str:
    """The SPA's form POST to allauth, GitHub's authorize page, and the callback; returns where the browser lands."""
    response = spa.web.post(
        BASE + "auth/provider/redirect",
        {"provider": "github", "process": "login", "callback_url": callback, "csrfmiddlewaretoken": spa.csrf_token()},
    )
    state = authorize_state(response, github)
    landed = spa.web.get(reverse("github_callback"), {"code": code, "state": state})
    assert landed.status_code == 302
    return str(landed["Location"])


def test_a_github_user_on_the_list_signs_in_from_the_spa_and_lands_on_its_page(github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    spa = HeadlessClient()

    landed = sign_in_with_github_from_the_spa(spa, github, github.add_user("Alice-GH", 101, "Alice"), "/strategies")

    assert landed == "/strategies"
    session = spa.session().json()
    assert session["data"]["user"]["username"] == "Alice-GH"
    assert session["data"]["methods"][0]["provider"] == "github"
    assert SocialAccount.objects.get().uid == "101"


@pytest.mark.parametrize(
    ("allowed_users", "orgs_status", "reason"),
    [(["alice-gh"], 200, "not_listed"), ([], 200, "no_allow_list"), (["alice-gh"], 500, "orgs_unavailable")],
)
def test_a_github_user_who_may_not_sign_in_is_sent_back_to_the_spa_with_the_reason(
    github: FakeGitHub, settings, allowed_users, orgs_status, reason
):
    settings.ALLOWED_GITHUB_USERS = allowed_users
    settings.ALLOWED_GITHUB_ORGS = ["ares-traders"] if allowed_users else []
    github.orgs_status = orgs_status
    spa = HeadlessClient()

    landed = sign_in_with_github_from_the_spa(spa, github, github.add_user("bob-gh", 202, "Bob"), "/sign-in?next=%2Fx")

    url = urlsplit(landed)
    assert url.path == "/sign-in"
    assert parse_qs(url.query) == {
        "next": ["/x"],
        "error": ["github_refused"],
        "reason": [reason],
        "github_login": ["bob-gh"],
    }
    assert not spa.signed_in()
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_the_spa_cannot_send_the_browser_to_another_site_after_github(github: FakeGitHub, settings):
    settings.ALLOWED_GITHUB_USERS = ["alice-gh"]
    spa = HeadlessClient()
    response = spa.web.post(
        BASE + "auth/provider/redirect",
        {
            "provider": "github",
            "process": "login",
            "callback_url": "https://evil.example/steal",
            "csrfmiddlewaretoken": spa.csrf_token(),
        },
    )
    assert github.requests == []
    assert not str(response.get("Location", "")).startswith(github.url)


# --- the other doors and paths -----------------------------------------------------------------------------------


def test_a_csrf_refusal_outside_the_json_apis_is_still_djangos_page(alice: User):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"login": "alice", "password": "x"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_unknown_paths_under_the_sign_in_api_are_a_json_404_not_the_spa():
    response = Client().get("/_allauth/browser/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("door", "next_url"), [("/admin/login/?next=/admin/", "/admin/"), ("/api/auth/login/?next=/api/", "/api/")]
)
def test_the_admin_and_the_browsable_api_sign_in_through_allauth(door: str, next_url: str):
    make_user("alice", is_staff=True, is_superuser=True)
    client = Client()
    response = client.get(door)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (location.path, parse_qs(location.query)) == ("/accounts/login/", {"next": [next_url]})

    # Their own forms are gone: a password posted there opens no session (it would skip the second factor).
    client.post(door, {"username": "alice", "password": "alice-password"})
    assert client.session.get("_auth_user_id") is None

    signed_in = client.post(
        reverse("account_login"), {"login": "alice", "password": "alice-password", "next": next_url}
    )
    assert signed_in["Location"] == next_url
    assert client.get(next_url).status_code == 200

"""Two-factor sign-in: an authenticator app (TOTP) with recovery codes, set up from the SPA's Security page through
allauth's JSON API, asked for after the password at every door, and compulsory with MFA_REQUIRED.

The codes are computed here from the secret (tests/totp.py), as the user's phone would; `totp_clock` holds allauth's
clock still so that the code is the one it expects.
"""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts import crypto
from accounts.adapter import MFA_SECRET_FIELD
from accounts.models import ApiToken
from tests.conftest import TotpClock
from tests.factories import TOTP_SECRET, make_two_factor, make_user
from tests.fake_github import FakeGitHub, authorize_state
from tests.headless import BASE, HeadlessClient, error_codes, pending_flow
from tests.totp import totp

pytestmark = [pytest.mark.usefixtures("fresh_cache"), pytest.mark.django_db]


def set_up_totp(spa: HeadlessClient, clock: TotpClock, password: str | None) -> str:
    """What the Security page does: fetch a new secret (and its QR code's URL), confirm the password when asked,
    then send a code from the app. Returns the secret."""
    offer = spa.get("account/authenticators/totp")
    assert offer.status_code == 404  # no authenticator yet: allauth offers a secret to set one up
    secret: str = offer.json()["meta"]["secret"]
    assert offer.json()["meta"]["totp_url"].startswith("otpauth://totp/")
    assert "issuer=AresBot" in offer.json()["meta"]["totp_url"]
    assert "<svg" in offer.json()["meta"]["totp_svg"]  # its QR code, for the phone to scan
    response = spa.post("account/authenticators/totp", {"code": totp(secret, clock.now)})
    if password is not None:
        assert response.status_code == 401
        assert {"id": "reauthenticate"} in response.json()["data"]["flows"]
        assert spa.post("auth/reauthenticate", {"password": password}).status_code == 200
        response = spa.post("account/authenticators/totp", {"code": totp(secret, clock.now)})
    assert response.status_code == 200, response.content
    assert response.json()["data"]["type"] == "totp"
    return secret


def test_setting_up_totp_asks_for_the_password_then_a_code_from_the_app(alice: User, totp_clock: TotpClock):
    spa = HeadlessClient()
    spa.sign_in("alice")
    offer = spa.get("account/authenticators/totp").json()["meta"]
    assert spa.post("auth/reauthenticate", {"password": "alice-password"}).status_code == 200
    wrong = spa.post("account/authenticators/totp", {"code": "000000"})
    assert wrong.status_code == 400
    assert error_codes(wrong) == ["incorrect_code"]
    assert not Authenticator.objects.exists()

    assert spa.post("account/authenticators/totp", {"code": totp(offer["secret"], totp_clock.now)}).status_code == 200

    kinds = {a["type"]: a for a in spa.get("account/authenticators").json()["data"]}
    assert set(kinds) == {"totp", "recovery_codes"}  # recovery codes come with the app, for a lost phone
    assert kinds["recovery_codes"]["unused_code_count"] == 10


def test_the_secret_is_stored_encrypted_under_the_encryption_key(alice: User, totp_clock: TotpClock):
    spa = HeadlessClient()
    spa.sign_in("alice")
    secret = set_up_totp(spa, totp_clock, "alice-password")

    stored = Authenticator.objects.get(type=Authenticator.Type.TOTP).data["secret"]
    assert secret not in stored
    assert stored.startswith("v1:")
    assert crypto.decrypt(stored, field=MFA_SECRET_FIELD) == secret
    seed = Authenticator.objects.get(type=Authenticator.Type.RECOVERY_CODES).data["seed"]
    assert seed.startswith("v1:")


def test_a_user_with_totp_signs_in_with_the_password_then_a_code(alice: User, totp_clock: TotpClock):
    make_two_factor(alice)
    spa = HeadlessClient()

    after_password = spa.sign_in("alice")
    assert after_password.status_code == 401
    assert pending_flow(after_password) == {
        "id": "mfa_authenticate",
        "is_pending": True,
        "types": ["recovery_codes", "totp"],
    }
    assert spa.api("/api/tokens").status_code == 401  # the password alone opens nothing

    wrong = spa.post("auth/2fa/authenticate", {"code": "123456"})
    assert (wrong.status_code, error_codes(wrong)) == (400, ["incorrect_code"])
    assert not spa.signed_in()

    signed_in = spa.post("auth/2fa/authenticate", {"code": totp_clock.code()})
    assert signed_in.status_code == 200
    assert [m["method"] for m in signed_in.json()["data"]["methods"]] == ["password", "mfa"]
    assert spa.api("/api/tokens").status_code == 200


def test_a_code_works_once(alice: User, totp_clock: TotpClock):
    make_two_factor(alice)
    first = HeadlessClient()
    first.sign_in("alice")
    code = totp_clock.code()
    assert first.post("auth/2fa/authenticate", {"code": code}).status_code == 200

    # Someone who saw the code over her shoulder, within the same 30 seconds:
    second = HeadlessClient(ip="198.51.100.20")
    second.sign_in("alice")
    assert error_codes(second.post("auth/2fa/authenticate", {"code": code})) == ["incorrect_code"]
    totp_clock.next_period()
    assert second.post("auth/2fa/authenticate", {"code": totp_clock.code()}).status_code == 200


def test_a_recovery_code_signs_in_once(alice: User, totp_clock: TotpClock):
    codes = make_two_factor(alice)
    spa = HeadlessClient()
    spa.sign_in("alice")
    assert spa.post("auth/2fa/authenticate", {"code": codes[3]}).status_code == 200
    remaining = {a["type"]: a for a in spa.get("account/authenticators").json()["data"]}["recovery_codes"]
    assert remaining["unused_code_count"] == 9

    again = HeadlessClient()
    again.sign_in("alice")
    assert error_codes(again.post("auth/2fa/authenticate", {"code": codes[3]})) == ["incorrect_code"]
    assert again.post("auth/2fa/authenticate", {"code": codes[4]}).status_code == 200


def test_the_security_page_shows_and_regenerates_the_recovery_codes(alice: User, totp_clock: TotpClock):
    old_codes = make_two_factor(alice)
    spa = HeadlessClient()
    spa.sign_in("alice")
    spa.post("auth/2fa/authenticate", {"code": totp_clock.code()})

    assert spa.get("account/authenticators/recovery-codes").status_code == 401  # confirm it's you first
    assert spa.post("auth/reauthenticate", {"password": "alice-password"}).status_code == 200
    shown = spa.get("account/authenticators/recovery-codes")
    assert shown.status_code == 200
    assert shown.json()["data"]["unused_codes"] == old_codes

    regenerated = spa.post("account/authenticators/recovery-codes")
    assert regenerated.status_code == 200
    new_codes = regenerated.json()["data"]["unused_codes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)

    later = HeadlessClient()
    later.sign_in("alice")
    assert error_codes(later.post("auth/2fa/authenticate", {"code": old_codes[0]})) == ["incorrect_code"]
    assert later.post("auth/2fa/authenticate", {"code": new_codes[0]}).status_code == 200


def test_deactivating_totp_asks_for_a_code_and_then_signing_in_needs_the_password_only(
    alice: User, totp_clock: TotpClock
):
    make_two_factor(alice)
    spa = HeadlessClient()
    spa.sign_in("alice")
    spa.post("auth/2fa/authenticate", {"code": totp_clock.code()})

    refused = spa.delete("account/authenticators/totp")
    assert refused.status_code == 401  # a sensitive change: confirm it's you first
    flows = {flow["id"] for flow in refused.json()["data"]["flows"]}
    assert flows == {"reauthenticate", "mfa_reauthenticate"}
    totp_clock.next_period()
    assert spa.post("auth/2fa/reauthenticate", {"code": totp_clock.code()}).status_code == 200
    assert spa.delete("account/authenticators/totp").status_code == 200
    assert not Authenticator.objects.exists()  # the recovery codes went with the app

    assert HeadlessClient().sign_in("alice").status_code == 200


def test_the_server_rendered_sign_in_asks_for_the_code_too(alice: User, totp_clock: TotpClock):
    make_two_factor(alice)
    client = Client()
    response = client.post(reverse("account_login"), {"login": "alice", "password": "alice-password"})
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.session.get("_auth_user_id") is None

    assert client.post(reverse("mfa_authenticate"), {"code": "000000"}).status_code == 200  # the form again
    assert client.session.get("_auth_user_id") is None
    response = client.post(reverse("mfa_authenticate"), {"code": totp_clock.code()})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(alice.pk)


def test_a_password_alone_opens_no_session_at_the_admin_or_the_browsable_api(totp_clock: TotpClock):
    make_two_factor(make_user("alice", is_staff=True, is_superuser=True))
    for door in ("/admin/login/?next=/admin/", "/api/auth/login/"):
        client = Client()
        client.post(door, {"username": "alice", "password": "alice-password"})
        assert client.session.get("_auth_user_id") is None
        assert client.get("/admin/").status_code == 302


def test_a_github_user_sets_up_totp_right_after_signing_in(github: FakeGitHub, settings, totp_clock: TotpClock):
    """No password to confirm with: a fresh sign-in is confirmation enough, an old one is not."""
    settings.ALLOWED_GITHUB_USERS = ["carol-gh"]
    spa = HeadlessClient()
    response = spa.web.post(
        BASE + "auth/provider/redirect",
        {"provider": "github", "process": "login", "callback_url": "/", "csrfmiddlewaretoken": spa.csrf_token()},
    )
    spa.web.get(
        reverse("github_callback"),
        {"code": github.add_user("carol-gh", 303, "Carol"), "state": authorize_state(response, github)},
    )
    assert spa.session().json()["data"]["user"]["has_usable_password"] is False

    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0  # as if she had signed in long ago
    secret = spa.get("account/authenticators/totp").json()["meta"]["secret"]
    stale = spa.post("account/authenticators/totp", {"code": totp(secret, totp_clock.now)})
    assert stale.status_code == 401
    assert stale.json()["data"]["flows"] == []  # nothing to confirm with: the SPA asks her to sign in again

    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
    set_up_totp(spa, totp_clock, password=None)
    assert Authenticator.objects.filter(user__username="carol-gh", type="totp").exists()


# --- MFA_REQUIRED -----------------------------------------------------------------------------------------------


@pytest.fixture
def mfa_required(settings) -> None:
    settings.MFA_REQUIRED = True


@pytest.mark.usefixtures("mfa_required")
def test_with_mfa_required_a_user_without_totp_can_only_set_it_up(totp_clock: TotpClock):
    make_user("alice", is_staff=True, is_superuser=True)
    spa = HeadlessClient()
    assert spa.get("config").json()["meta"]["mfa_required"] is True
    signed_in = spa.sign_in("alice")
    assert signed_in.status_code == 200
    assert signed_in.json()["data"]["user"]["mfa_setup_required"] is True

    for path in ("/api/strategies", "/api/accounts", "/api/tokens"):
        refused = spa.api(path)
        assert refused.status_code == 403
        assert refused.json()["code"] == "mfa_required"
        assert "/security" in refused.json()["detail"]
    for page in ("/admin/", "/django-rq/"):
        assert spa.api(page)["Location"] == "/security?required=1"

    set_up_totp(spa, totp_clock, "alice-password")

    assert spa.session().json()["data"]["user"]["mfa_setup_required"] is False
    assert spa.api("/api/strategies").status_code == 200
    assert spa.api("/admin/").status_code == 200


@pytest.mark.usefixtures("mfa_required")
def test_with_mfa_required_a_token_works_only_once_its_owner_has_totp(alice: User):
    _, raw = ApiToken.objects.issue(alice, "script")
    client = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    refused = client.get("/api/strategies")
    assert (refused.status_code, refused.json()["code"]) == (403, "mfa_required")
    assert client.post("/api/tokens", {"name": "another"}, content_type="application/json").status_code == 403
    assert ApiToken.objects.count() == 1

    make_two_factor(alice)
    assert client.get("/api/strategies").status_code == 200


def test_without_mfa_required_a_user_without_totp_uses_everything(alice: User):
    spa = HeadlessClient()
    assert spa.sign_in("alice").json()["data"]["user"]["mfa_setup_required"] is False
    assert spa.api("/api/strategies").status_code == 200


# --- key rotation ------------------------------------------------------------------------------------------------


def test_rotating_the_encryption_key_re_encrypts_the_two_factor_secrets(alice: User, settings, totp_clock: TotpClock):
    old_key, new_key = "1a" * 32, "2b" * 32
    settings.ENCRYPTION_KEY = old_key
    codes = make_two_factor(alice)
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = new_key, [old_key]

    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "and 2 two-factor secret(s)" in out.getvalue()

    settings.ENCRYPTION_OLD_KEYS = []
    for authenticator in Authenticator.objects.all():
        token = authenticator.data.get("secret") or authenticator.data["seed"]
        assert crypto.stored_key_id(token) == crypto.key_id(new_key)
    spa = HeadlessClient()
    spa.sign_in("alice")
    assert spa.post("auth/2fa/authenticate", {"code": totp(TOTP_SECRET, totp_clock.now)}).status_code == 200
    again = HeadlessClient()
    again.sign_in("alice")
    assert again.post("auth/2fa/authenticate", {"code": codes[0]}).status_code == 200


def test_rotation_stops_before_writing_when_a_two_factor_secret_has_an_unknown_key(alice: User, settings):
    settings.ENCRYPTION_KEY = "1a" * 32
    make_two_factor(alice)
    before = list(Authenticator.objects.values_list("data", flat=True))
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = "2b" * 32, []

    with pytest.raises(CommandError, match=f"the two-factor secrets of user id {alice.pk}"):
        call_command("rotate_encryption_key", stdout=StringIO())
    assert list(Authenticator.objects.values_list("data", flat=True)) == before

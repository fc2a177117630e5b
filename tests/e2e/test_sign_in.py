"""Signing in and the Security page in a real browser against the real server (issue 10): the password, then a code
the test computes from the secret as a phone would (browser.mjs), back to the page asked for; the Security page with
two-factor sign-in on and its recovery codes behind "confirm it's you"; MFA_REQUIRED keeping a user to that page.
The pictures land in var/screenshots/ beside every other page's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from tests.e2e.webapp import Page, Shot, WebApp, shoot
from tests.factories import TOTP_SECRET, make_two_factor, make_user

pytestmark = pytest.mark.slow

PASSWORD_STEP = (
    {"fill": "#sign-in-username", "value": "carol"},
    {"fill": "#sign-in-password", "value": "carol-password"},
    {"click": "[data-test=password-form] button[type=submit]"},
    {"waitFor": "[data-test=code-form]"},
)


def assert_clean(shots: dict[str, Shot]) -> None:
    """No console or page error, and no serious or critical axe-core violation, on any shot."""
    found = {name: [*s.errors, *(f"{v['id']} at {v['targets']}" for v in s.violations)] for name, s in shots.items()}
    assert {name: problems for name, problems in found.items() if problems} == {}


@pytest.fixture
def carol(db: object) -> User:
    user = make_user("carol")
    make_two_factor(user)
    return user


def test_a_user_with_an_authenticator_app_signs_in_with_a_code_and_lands_where_they_were_going(
    web_apps: Callable[..., WebApp], carol: User
):
    app = web_apps()
    steps = (
        *PASSWORD_STEP,
        {"totp": "#sign-in-code", "secret": TOTP_SECRET},
        {"click": "[data-test=code-form] button[type=submit]"},
        {"waitFor": "main .page"},
    )
    [shot] = shoot(
        app,
        [Page("sign-in-flow", "/workers", wait_for=".sign-in form", signed_in=False, steps=steps)],
        None,
        widths=["desktop"],
        themes=["light"],
        axe=True,
    ).values()

    assert_clean({shot.name: shot})
    assert shot.url.endswith("/workers")
    assert "Workers" in shot.text


def test_the_sign_in_pages_at_both_widths_in_both_themes(web_apps: Callable[..., WebApp], carol: User):
    # GitHub set up with an allow-list (never reached: the pages only offer it).
    app = web_apps(GITHUB_CLIENT_ID="e2e-client", GITHUB_CLIENT_SECRET="e2e-secret", ALLOWED_GITHUB_ORGS="ares-traders")
    refused = "/sign-in?next=/&error=github_refused&reason=not_listed&github_login=bob-gh"
    pages = [
        Page(
            "sign-in-code", "/sign-in", wait_for=".sign-in form", signed_in=False, text_of="body", steps=PASSWORD_STEP
        ),
        Page("sign-in-github-refused", refused, wait_for="[data-test=github-refused]", signed_in=False, text_of="body"),
    ]

    shots = shoot(app, pages, None, axe=True)

    assert_clean(shots)
    assert "Two-factor sign-in" in shots["sign-in-code-phone-dark"].text
    assert "Sign in with GitHub" in shots["sign-in-github-refused-phone-light"].text
    assert (
        "The GitHub account bob-gh is not on this server's allow-list"
        in shots["sign-in-github-refused-desktop-light"].text
    )


def test_the_security_page_with_two_factor_sign_in_on_and_its_recovery_codes(
    web_apps: Callable[..., WebApp], carol: User
):
    app = web_apps()
    dialog = "[data-test=reauth-password]"
    steps = (
        {"click": "[data-test=show-codes]"},
        {"waitFor": f"{dialog}, [data-test=recovery-codes]"},
        # The codes are behind "confirm it's you"; once confirmed, this session shows them for a few minutes.
        {"when": dialog, "fill": dialog, "value": "carol-password"},
        {"when": dialog, "click": ".el-dialog__footer .el-button--primary"},
        {"waitFor": "[data-test=recovery-codes]"},
    )

    page = Page("security-on", "/security", wait_for="[data-test=totp-off]", steps=steps)
    shots = shoot(app, [page], carol, axe=True)

    assert len(shots) == 4
    assert_clean(shots)
    text = shots["security-on-desktop-light"].text
    assert "10 of 10 unused" in text
    assert "Turn off" in text


def test_with_mfa_required_a_user_without_an_app_is_kept_to_the_security_page(web_apps: Callable[..., WebApp], alice):
    app = web_apps(MFA_REQUIRED="true")
    steps = ({"click": "[data-test=totp-set-up]"}, {"waitFor": "[data-test=totp-secret]"})

    shots = shoot(
        app,
        [Page("security-required", "/strategies", wait_for="[data-test=mfa-required]", steps=steps, text_of="body")],
        alice,
        themes=["light"],
        axe=True,
    )

    assert_clean(shots)
    for shot in shots.values():
        assert shot.url.endswith("/security")
        assert "This server requires two-factor sign-in" in shot.text
        assert "Scan this QR code" in shot.text
        # The menu offers only the page the server answers until then.
        assert "Security" in shot.text and "Strategies" not in shot.text and "Dashboard" not in shot.text

"""Who may sign in: local users made by an administrator, and GitHub users on the allow-list."""

from __future__ import annotations

import dataclasses
import logging
import smtplib
import time
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import requests
from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.internal.flows.reauthentication import get_reauthentication_flows
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.headless.adapter import DefaultHeadlessAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import render

from accounts import crypto
from accounts.two_factor import needs_two_factor_setup

logger = logging.getLogger(__name__)

# 100 per page, 10 pages: nobody is in a thousand organisations, and a looping `next` link must not hang a login.
_ORGS_PER_PAGE = 100
_ORGS_MAX_PAGES = 10
# The decision is cached on the SocialLogin because allauth asks twice for a first login (pre_social_login, then
# is_open_for_signup); without it the organisations API would be called twice per sign-up.
_REFUSAL_ATTR = "_aresbot_github_refusal"


def github_configured() -> bool:
    return bool(settings.GITHUB_CLIENT_ID)


def github_allow_list_configured() -> bool:
    return bool(settings.ALLOWED_GITHUB_USERS or settings.ALLOWED_GITHUB_ORGS)


class Refusal(StrEnum):
    """Why a GitHub sign-in was refused; the denied page explains each one differently."""

    NO_ALLOW_LIST = "no_allow_list"
    NOT_LISTED = "not_listed"
    ORGS_UNAVAILABLE = "orgs_unavailable"
    NOT_GITHUB = "not_github"


class GitHubOrgsUnavailable(Exception):
    """GitHub gave no usable list of organisations, so membership cannot be confirmed."""


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Local accounts are made with `createsuperuser` or in the admin, never by self-service sign-up.
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Setting up two-factor sign-in asks for the password again; a GitHub user has no password (nor, before
        that, a code) to give, so for them a sign-in within ACCOUNT_REAUTHENTICATION_TIMEOUT is confirmation
        enough. Without this they could never set up TOTP, and with MFA_REQUIRED never use the app."""
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = context.request
        user = request.user
        if not user.is_authenticated or get_reauthentication_flows(user):
            return True
        records = get_authentication_records(request, user)
        signed_in_at = max((record["at"] for record in records), default=0.0)
        return time.time() - signed_in_at >= account_settings.REAUTHENTICATION_TIMEOUT

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # A mail server that is down or refuses us must not turn a password reset into a 500: the page answers
        # as usual (it never says whether the address exists), and the operator finds the reason in the log.
        try:
            super().send_mail(template_prefix, email, context)
        except (smtplib.SMTPException, OSError) as exc:
            logger.error("could not send the %s email: %s", template_prefix.rsplit("/", 1)[-1], exc)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return self.refusal(sociallogin) is None

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Checked on every login, not only the first: removing someone from the list locks them out.
        reason = self.refusal(sociallogin)
        if reason is None:
            return
        login = str(sociallogin.account.extra_data.get("login") or "?")
        logger.warning("GitHub sign-in refused for %s: %s", login, reason.value)
        if sociallogin.is_headless:
            # Started from the SPA: back to the page it named, which says why in the user's language.
            query = urlencode({"error": "github_refused", "reason": reason.value, "github_login": login})
            next_url = str(
                sociallogin.state.get("next") or settings.HEADLESS_FRONTEND_URLS["socialaccount_login_error"]
            )
            raise ImmediateHttpResponse(HttpResponseRedirect(f"{next_url}{'&' if '?' in next_url else '?'}{query}"))
        raise ImmediateHttpResponse(
            render(
                request,
                "account/github_denied.html",
                {
                    "github_login": login,
                    "reason": reason.value,
                    "allow_list_configured": github_allow_list_configured(),
                },
                status=403,
            )
        )

    def is_allowed(self, sociallogin: SocialLogin) -> bool:
        return self.refusal(sociallogin) is None

    def refusal(self, sociallogin: SocialLogin) -> Refusal | None:
        """None when this GitHub account may sign in now, otherwise the reason it may not."""
        cached: tuple[Refusal | None] | None = getattr(sociallogin, _REFUSAL_ATTR, None)
        if cached is None:
            cached = (self._decide(sociallogin),)
            setattr(sociallogin, _REFUSAL_ATTR, cached)
        return cached[0]

    def _decide(self, sociallogin: SocialLogin) -> Refusal | None:
        if sociallogin.account.provider != "github":
            return Refusal.NOT_GITHUB
        if not github_allow_list_configured():
            return Refusal.NO_ALLOW_LIST
        login = str(sociallogin.account.extra_data.get("login") or "").lower()
        if login and login in settings.ALLOWED_GITHUB_USERS:
            return None
        if not settings.ALLOWED_GITHUB_ORGS or sociallogin.token is None:
            return Refusal.NOT_LISTED
        try:
            orgs = self.github_orgs(sociallogin.token.token)
        except (requests.RequestException, GitHubOrgsUnavailable) as exc:
            # Fail closed: an outage at GitHub must not let anyone in, nor turn the callback into a 500.
            logger.warning("GitHub organisations of %s could not be read: %s", login or "?", exc)
            return Refusal.ORGS_UNAVAILABLE
        if set(orgs) & set(settings.ALLOWED_GITHUB_ORGS):
            return None
        return Refusal.NOT_LISTED

    def github_orgs(self, access_token: str) -> list[str]:
        """Organisations the user belongs to, private memberships included (the read:org scope)."""
        orgs: list[str] = []
        url: str | None = f"{GitHubOAuth2Adapter.api_url}/user/orgs?per_page={_ORGS_PER_PAGE}"
        with self.get_requests_session() as session:
            for _ in range(_ORGS_MAX_PAGES):
                if not url:
                    break
                response = session.get(
                    url, headers={"Authorization": f"token {access_token}", "Accept": "application/vnd.github+json"}
                )
                response.raise_for_status()
                page = response.json()
                if not isinstance(page, list) or not all(isinstance(org, dict) for org in page):
                    raise GitHubOrgsUnavailable(f"expected a list of organisations from {url}")
                orgs.extend(str(org.get("login") or "").lower() for org in page)
                url = response.links.get("next", {}).get("url")
        return [org for org in orgs if org]

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        # allauth shows a generic page; the log is where an operator finds a wrong client secret or an outage.
        logger.warning("Sign-in through %s failed: %s %r", getattr(provider, "id", provider), error, exception)
        super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )


class HeadlessAdapter(DefaultHeadlessAdapter):
    """What allauth's JSON API tells the SPA beyond its own fields."""

    def populate_response_meta(self, request: HttpRequest, meta: dict[str, Any]) -> None:
        if "totp_url" in meta:
            # The QR code of a new TOTP secret, drawn here as on allauth's own page: the SPA needs no QR library.
            meta["totp_svg"] = get_mfa_adapter().build_totp_svg(meta["totp_url"])
        if getattr(request.resolver_match, "url_name", None) == "config":
            # The server page's rules: GitHub is offered only with an allow-list (else every sign-in is refused).
            meta["github_allow_list_configured"] = github_allow_list_configured()
            meta["mfa_required"] = settings.MFA_REQUIRED

    def get_user_dataclass(self) -> Any:
        return dataclasses.make_dataclass(
            "User",
            [
                (
                    "mfa_setup_required",
                    bool,
                    dataclasses.field(
                        default=False,
                        metadata={
                            "description": "MFA_REQUIRED is on and the user has no authenticator app yet: only the "
                            "Security page is open to them.",
                            "example": False,
                        },
                    ),
                )
            ],
            bases=(super().get_user_dataclass(),),
        )

    def user_as_dataclass(self, user: AbstractBaseUser) -> Any:
        return dataclasses.replace(super().user_as_dataclass(user), mfa_setup_required=needs_two_factor_setup(user))


# The associated data bound into each encrypted authenticator secret (accounts/crypto.py).
MFA_SECRET_FIELD = "mfa_secret"


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and the recovery codes' seed are stored like exchange keys: AES-GCM under ENCRYPTION_KEY
    (allauth would keep them in the clear), so a copy of the database alone cannot produce second-factor codes.
    `manage.py rotate_encryption_key` re-encrypts them with the exchange credentials."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text, field=MFA_SECRET_FIELD)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text, field=MFA_SECRET_FIELD)

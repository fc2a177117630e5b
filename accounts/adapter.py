"""Who may sign in: local users made by an administrator, and GitHub users on the allow-list."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render

logger = logging.getLogger(__name__)


def github_allow_list_configured() -> bool:
    return bool(settings.ALLOWED_GITHUB_USERS or settings.ALLOWED_GITHUB_ORGS)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Local accounts are made with `createsuperuser` or in the admin, never by self-service sign-up.
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return self.is_allowed(sociallogin)

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Checked on every login, not only the first: removing someone from the list locks them out.
        if not self.is_allowed(sociallogin):
            login = sociallogin.account.extra_data.get("login", "?")
            logger.warning("GitHub sign-in refused for %s: not on the allow-list", login)
            raise ImmediateHttpResponse(
                render(
                    request,
                    "account/github_denied.html",
                    {"github_login": login, "allow_list_configured": github_allow_list_configured()},
                    status=403,
                )
            )

    def is_allowed(self, sociallogin: SocialLogin) -> bool:
        if sociallogin.account.provider != "github":
            return False
        login = str(sociallogin.account.extra_data.get("login", "")).lower()
        if login and login in settings.ALLOWED_GITHUB_USERS:
            return True
        if settings.ALLOWED_GITHUB_ORGS and sociallogin.token is not None:
            return bool(set(self.github_orgs(sociallogin.token.token)) & set(settings.ALLOWED_GITHUB_ORGS))
        return False

    def github_orgs(self, access_token: str) -> list[str]:
        """Organisations the user belongs to, private memberships included (the read:org scope)."""
        orgs: list[str] = []
        url: str | None = f"{GitHubOAuth2Adapter.api_url}/user/orgs?per_page=100"
        with self.get_requests_session() as session:
            while url:
                response = session.get(url, headers={"Authorization": f"token {access_token}"}, timeout=10)
                response.raise_for_status()
                orgs.extend(str(org.get("login", "")).lower() for org in response.json())
                url = response.links.get("next", {}).get("url")
        return orgs

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        if not user.username:
            user.username = sociallogin.account.extra_data.get("login", "")
        return user

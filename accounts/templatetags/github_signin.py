"""`{% github_signin as github %}`: what the login page may offer, without a context processor in settings."""

from __future__ import annotations

from dataclasses import dataclass

from django import template

from accounts.adapter import github_allow_list_configured, github_configured

register = template.Library()


@dataclass(frozen=True)
class GitHubSignIn:
    configured: bool
    allow_list_configured: bool

    @property
    def offered(self) -> bool:
        # With no allow-list every GitHub sign-in would be refused, so a button would only lead to a 403.
        return self.configured and self.allow_list_configured


@register.simple_tag
def github_signin() -> GitHubSignIn:
    return GitHubSignIn(configured=github_configured(), allow_list_configured=github_allow_list_configured())

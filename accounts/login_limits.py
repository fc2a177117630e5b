"""Password guessing is limited at every sign-in door: the admin's login, /api/auth/login/ and allauth's.

django-axes does the counting (settings: AXES_*): every door ends in `django.contrib.auth.authenticate()`, whose
first backend refuses a locked-out (username, IP) pair and whose failure signal counts. The counts live in the
Django cache, which is Redis, so every web process sees the same ones. This module holds the three hooks axes
calls: who is signing in, from where, and the page that says they must wait.
"""

from __future__ import annotations

import math
from typing import Any

from allauth.account.adapter import get_adapter
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


class LoginLimitBackend(AxesStandaloneBackend):
    """The first authentication backend: refuses a (username, IP) pair that is over the failure limit.

    A call without a request (a management command, a test's `client.login`) comes through no door and has no
    address to count against, so it is let through rather than failing, as axes would, with a ValueError.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """The username a sign-in names, folded to lower case: allauth matches usernames regardless of case, so
    `Alice` and `ALICE` must count against the same limit."""
    value = (credentials or {}).get("username")
    if value is None:
        data = getattr(request, "data", None) or request.POST
        value = data.get("username") or data.get("login")
    return str(value).strip().lower() if value else None


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address as allauth's own rate limits see it: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT
    proxies the matching X-Forwarded-For entry (the header is ignored otherwise, since a client can forge it).
    None for a request with neither (a sign-in made in code); its username is still counted."""
    try:
        return str(get_adapter(request).get_client_ip(request))
    except PermissionDenied:
        return None


def lockout_message() -> str:
    minutes = lockout_minutes()
    return (
        f"Too many failed sign-ins for this username from your address: signing in is refused for {minutes} "
        f"minute{'' if minutes == 1 else 's'}, even with the right password. Try again later."
    )


def lockout_minutes() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 with the message: JSON for scripts (and the SPA), the sign-in layout for people."""
    message = lockout_message()
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    accepts = request.headers.get("Accept", "")
    if "application/json" in accepts or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "account/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = retry_after
    return response

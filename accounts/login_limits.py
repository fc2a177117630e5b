"""Password and code guessing is limited at every sign-in door: allauth's page (/accounts/login/), its JSON API for
the SPA (/_allauth/browser/v1/auth/login), and the two-factor step of both. (The admin's and the browsable API's
login forms lead to allauth's page.)

django-axes does the counting (settings: AXES_*): every password door ends in `django.contrib.auth.authenticate()`,
whose first backend refuses a locked-out (username, IP) pair and whose failure signal counts. A wrong two-factor
code counts as a failed sign-in of the same pair (`count_wrong_code`), and a locked-out pair may not try another
code (`SecondFactorLimitMiddleware`): someone who knows the password cannot guess the 10^6 TOTP codes either. The
counts live in the Django cache, which is Redis, so every web process sees the same ones. This module also holds
the three hooks axes calls: who is signing in, from where, and the page that says they must wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.internal.stagekit import clear_login, unstash_login
from allauth.mfa.models import Authenticator
from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

# The views that check a two-factor code: allauth's pages and its JSON API, at sign-in and when a signed-in user
# confirms a sensitive change (reauthentication).
SIGN_IN_CODE_VIEWS = {"mfa_authenticate", "headless:browser:mfa:authenticate"}
REAUTHENTICATION_CODE_VIEWS = {"mfa_reauthenticate", "headless:browser:mfa:reauthenticate"}


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
    """429 with the message: in allauth's error shape for its JSON API (the SPA), JSON for scripts, the sign-in
    layout for people."""
    message = lockout_message()
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    accepts = request.headers.get("Accept", "")
    if request.path.startswith("/_allauth/"):
        body = {"status": 429, "errors": [{"code": "locked_out", "message": message}]}
        response: HttpResponse = JsonResponse(body, status=429)
    elif "application/json" in accepts or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "account/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = retry_after
    return response


def count_wrong_code(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """allauth.mfa's `authentication_failed`: a wrong code counts like a wrong password of that username."""
    if request is not None:
        user_login_failed.send(sender=Authenticator, credentials={"username": user.get_username()}, request=request)


class SecondFactorLimitMiddleware:
    """Refuses a code from a (username, IP) pair over the failure limit before it is checked, even a right one.

    At sign-in the username is that of the pending login (the password step passed); a lockout also drops that
    pending login, so the next try starts again at the password, which the same limit refuses.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        if request.method != "POST" or request.resolver_match is None:
            return None
        name = request.resolver_match.view_name
        if name in SIGN_IN_CODE_VIEWS:
            login = unstash_login(request, peek=True)
            user = login.user if login is not None else None
        elif name in REAUTHENTICATION_CODE_VIEWS:
            user = request.user
        else:
            return None
        if user is None or not user.is_authenticated:
            return None
        credentials = {"username": user.get_username()}
        if AxesProxyHandler.is_allowed(request, credentials):
            return None
        if name in SIGN_IN_CODE_VIEWS:
            clear_login(request)
        return lockout_response(request, credentials=credentials)

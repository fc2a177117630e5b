"""Two-factor sign-in made compulsory (MFA_REQUIRED): until a user sets up an authenticator app (TOTP), they reach
the Security page, the sign-in pages and nothing else.

Enforced on the server, not only in the SPA's router: the API refuses such a user with 403 and the code
`mfa_required` (for session and token callers alike, so an API token made before the setting was turned on stops
working until its owner sets up TOTP, and no new token can be made without it); the admin and the queue pages
send them to the Security page. allauth's own endpoints (/_allauth/, /accounts/), which set up the authenticator,
stay open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

# The SPA's page where TOTP is set up (frontend/app's router).
SECURITY_PAGE = "/security"
# Server-rendered pages that show or change trading data; the API is guarded by the permission below.
_GUARDED_PAGES = ("/admin/", "/django-rq/")

MESSAGE = (
    "Two-factor sign-in is required on this server: set up an authenticator app on the Security page "
    f"({SECURITY_PAGE}) before using the API."
)


def needs_two_factor_setup(user: Any) -> bool:
    """True when MFA_REQUIRED is on and this signed-in user has no authenticator app yet."""
    if not settings.MFA_REQUIRED or not getattr(user, "is_authenticated", False) or user.pk is None:
        return False
    return not is_mfa_enabled(user, [Authenticator.Type.TOTP])


class TwoFactorSetupRequired(PermissionDenied):
    default_detail = MESSAGE
    default_code = "mfa_required"


class TwoFactorSetUp(BasePermission):
    """The API's second permission, after IsAuthenticated: refuses a user who must set up TOTP first."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if needs_two_factor_setup(request.user):
            raise TwoFactorSetupRequired()
        return True


class TwoFactorRequiredMiddleware:
    """Sends a signed-in user who must set up TOTP from the admin and the queue pages to the Security page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_GUARDED_PAGES) and needs_two_factor_setup(request.user):
            return HttpResponseRedirect(f"{SECURITY_PAGE}?required=1")
        return self.get_response(request)

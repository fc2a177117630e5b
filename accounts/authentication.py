from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken

# Writing last_used_at on every request would turn each read into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def now() -> datetime:
    """The module's one clock seam: tests move it to drive the once-a-minute rule."""
    return timezone.now()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token ab_…` (or `Bearer ab_…`) for scripts; the browser uses its session instead."""

    keywords = ("token", "bearer")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Token <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = ApiToken.objects.authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        record_use(token, now())
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


def record_use(token: ApiToken, at: datetime) -> None:
    """Write `last_used_at` at most once per LAST_USED_RESOLUTION, however many requests use the token at once."""
    due = at - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > due:
        return  # fresh as loaded: no statement at all (on SQLite even an UPDATE matching nothing takes the write lock)
    # Conditional on the stored value, not the loaded one: requests that all loaded the same stale value race
    # here, and only the first finds a row to change.
    ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=due), pk=token.pk).update(
        last_used_at=at
    )

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet


class OwnedQuerysetMixin:
    """Scopes a viewset to rows the caller owns; another user's id is simply not found (404, never 403)."""

    model: type[Model]
    owner_lookup = "owner"

    def owned(self, request_user: Any) -> QuerySet[Any]:
        return self.model._default_manager.filter(**{self.owner_lookup: request_user})

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.model._default_manager.none()
        return self.owned(self.request.user)  # type: ignore[attr-defined]

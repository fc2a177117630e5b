"""Query filters that refuse what they do not understand (a 400 naming the parameter), as the schema states them.

django-filter's own BooleanFilter reads `?is_active=maybe` as "no filter" and its NumberFilter takes `1.5` for an
id; here both are errors, and an id filter matches only the caller's rows, so someone else's id and a missing one
answer the same (an empty list).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from aresbot.api import BOOLEAN_MESSAGE, parse_bool
from aresbot.schema import MAX_ID


class _StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        try:
            return parse_bool(value)
        except ValueError:
            raise forms.ValidationError(BOOLEAN_MESSAGE, code="invalid") from None


@extend_schema_field({"type": "boolean"})
class BooleanFilter(django_filters.Filter):
    field_class = _StrictBooleanField


class _IdField(forms.IntegerField):
    default_error_messages = {"invalid": f"Must be a whole number from 1 to {MAX_ID}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)
        self.error_messages["min_value"] = self.error_messages["max_value"] = self.error_messages["invalid"]


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An id of one of the caller's rows (the queryset is already the caller's, so another id matches nothing)."""

    field_class = _IdField

"""Shared REST plumbing: pagination, and one exception handler so every error has the same shape.

The services' domain errors (aresbot/errors.py) become HTTP here: a StateConflict is 409 {"detail": message},
an InvalidField 400 {field: message}, an Unavailable 503 {"detail": message}.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.crypto import CredentialKeyError
from aresbot.errors import InvalidField, StateConflict, Unavailable

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def django_errors_to_drf(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError(
            {field: [str(m) for e in errs for m in e.messages] for field, errs in exc.error_dict.items()}
        )
    return ValidationError({"non_field_errors": exc.messages})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = django_errors_to_drf(exc)
    elif isinstance(exc, InvalidField):
        exc = ValidationError({exc.field: exc.message})
    elif isinstance(exc, StateConflict):
        exc = Conflict(exc.message)
    elif isinstance(exc, Unavailable):
        return Response({"detail": exc.message}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    elif isinstance(exc, ProtectedError):
        exc = Conflict(str(exc.args[0]) if exc.args else None)
    elif isinstance(exc, CredentialKeyError):
        logger.error("credential decryption failed: %s", exc)
        return Response({"detail": f"Server misconfiguration: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    elif isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return drf_exception_handler(exc, context)

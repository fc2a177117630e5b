"""Shared REST plumbing: pagination, and one exception handler so every error has the same shape.

The services' domain errors (aresbot/errors.py) become HTTP here: a StateConflict is 409 {"detail": message},
an InvalidField 400 {field: message}, a ServiceUnavailable (or Redis not answering a read) 503 {"detail": message}.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.crypto import CredentialKeyError
from accounts.two_factor import TwoFactorSetupRequired
from aresbot.errors import REDIS_UNAVAILABLE, InvalidField, ServiceUnavailable, StateConflict

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    """`page` and `page_size` as the schema states them: a value out of range is a 400 naming the range, not a
    silent default (a blank value means "not given")."""

    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()

    def get_page_size(self, request: Request) -> int | None:
        size = query_int(request, self.page_size_query_param, 1, self.max_page_size)
        return self.page_size if size is None else size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        number = query_int(request, self.page_query_param, 1, MAX_PAGE)
        return 1 if number is None else number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_PAGE)
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
        return parameters


# A page number Django's paginator can take; beyond the last page is a 404 like any missing page.
MAX_PAGE = 2**31 - 1
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
BOOLEAN_MESSAGE = "Must be true or false."


def parse_bool(value: object) -> bool | None:
    """A query string's yes or no: None when blank; ValueError for anything else than true/false (1/0, yes/no)."""
    text = str(value or "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(BOOLEAN_MESSAGE)


def query_int(request: Request, name: str, low: int, high: int) -> int | None:
    """The query parameter `name` as a whole number in [low, high]; None when absent or blank."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and low <= int(raw) <= high:
        return int(raw)
    raise ValidationError({name: [f"Must be a whole number from {low} to {high}."]})


def query_bool(request: Request, name: str) -> bool:
    """The query parameter `name` as true or false (absent or blank: false); any other value is a 400."""
    try:
        return bool(parse_bool(request.query_params.get(name)))
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


@csrf_exempt  # it changes nothing, and a POST to a wrong path deserves the 404, not a CSRF page
def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


CSRF_MESSAGE = (
    "The request's CSRF token is missing or wrong ({reason}): reload the page and try again. Scripts: send the "
    "csrftoken cookie's value in an X-CSRFToken header, or use an API token."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal (settings.CSRF_FAILURE_VIEW), told to the JSON clients in JSON: allauth's headless API
    in its own error shape, which the web app reads; everything else gets Django's page."""
    message = CSRF_MESSAGE.format(reason=reason.rstrip(".") or "no reason given")
    if request.path.startswith("/_allauth/"):
        return JsonResponse(
            {"status": 403, "errors": [{"message": message, "code": "csrf"}]}, status=status.HTTP_403_FORBIDDEN
        )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status.HTTP_403_FORBIDDEN)
    return django_csrf_failure(request, reason)


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
        exc = ValidationError({exc.field: [exc.message]})
    elif isinstance(exc, StateConflict):
        exc = Conflict(exc.message)
    elif isinstance(exc, ProtectedError):
        exc = Conflict(str(exc.args[0]) if exc.args else None)
    elif isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        logger.error("redis unreachable: %s", exc)
        return Response({"detail": REDIS_UNAVAILABLE}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    elif isinstance(exc, ServiceUnavailable):
        return Response({"detail": exc.message}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    elif isinstance(exc, CredentialKeyError):
        logger.error("credential decryption failed: %s", exc)
        return Response({"detail": f"Server misconfiguration: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    elif isinstance(exc, TwoFactorSetupRequired):
        # The code lets the SPA tell this 403 from the others and open the Security page.
        return Response({"detail": str(exc.detail), "code": exc.default_code}, status=status.HTTP_403_FORBIDDEN)
    elif isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"The request body is larger than {limit} bytes, the most this server accepts."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    elif isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return Response({"detail": f"The request has more than {limit} fields."}, status=status.HTTP_400_BAD_REQUEST)
    elif isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return Response({"files": [f"At most {limit} files in one upload."]}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, ValidationError) and response is not None and isinstance(response.data, dict):
        response.data = flat_field_errors(response.data)
    return response


def flat_field_errors(errors: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """A nested serializer's errors in the API's one error shape (field → messages, as the schema's FieldErrors
    says): `parent.child` keys, and a list's item errors under the list's key, each message naming the item."""
    flat: dict[str, list[str]] = {}
    for key, value in errors.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value and all(str(k).isdigit() for k in value):
            flat.setdefault(name, []).extend(
                f"Item {int(index) + 1}: {message}" for index, item in value.items() for message in _messages(item)
            )
        elif isinstance(value, Mapping):
            flat.update(flat_field_errors(value, name))
        elif isinstance(value, list) and any(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                if isinstance(item, Mapping) and item:
                    flat.update(flat_field_errors(item, f"{name}.{index}"))
        else:
            flat[name] = _messages(value)
    return flat


def _messages(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [message for item in value.values() for message in _messages(item)]
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    return [str(value)]

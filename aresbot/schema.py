"""The OpenAPI schema (drf-spectacular) as the API really answers: every error status an operation can return, with
its body, and the ranges of the parameters.

drf-spectacular documents the success answer it can see in a view; the errors come from the plumbing around the
views (authentication, the exception handler in aresbot/api.py, the parsers, the pagination), so they are added
here, once, by the rules below. What only a view knows (409 when it conflicts with the current state, 503 when a
service it needs is down) the view declares in `schema_errors`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

# The largest id the database can hold (a signed 64-bit primary key).
MAX_ID = 2**63 - 1


class ErrorSerializer(serializers.Serializer):
    """An error about the request as a whole."""

    detail = serializers.CharField(help_text="What went wrong, written for people.")


class FieldErrorsSerializer(serializers.Serializer):
    """Invalid input: each field that failed, with its messages (all of them at once); `non_field_errors` for a
    rule about several fields together."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"grid_levels": ["Must be between 1 and 100 levels."]},
        }


BAD_REQUEST = PolymorphicProxySerializer(
    component_name="BadRequest",
    serializers=[FieldErrorsSerializer, ErrorSerializer],
    resource_type_field_name=None,
)

# Why each status happens, as the schema tells it.
ERROR_DESCRIPTIONS: Mapping[int, str] = {
    400: "Invalid input: a message per field, naming the allowed range (or, for a body that is not JSON, a detail).",
    401: "Not signed in: no session and no valid token (`Authorization: Token ab_…`).",
    403: "Refused: a session request without its CSRF token, or not allowed for this user (with MFA_REQUIRED, code "
    "`mfa_required`: set up two-factor sign-in first).",
    404: "Not found: no such object among yours (someone else's id answers the same), or no such page.",
    409: "Conflicts with the current state (for example, it is running, or still in use); nothing was changed.",
    413: "The request body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    415: "The request body's content type is not JSON, form or multipart.",
    503: "A service it needs is unavailable (Redis, the exchange's markets, or the stored credentials cannot be "
    "decrypted with the configured ENCRYPTION_KEY); nothing was changed, try again later.",
}


def error_response(code: int) -> OpenApiResponse:
    return OpenApiResponse(BAD_REQUEST if code == 400 else ErrorSerializer, description=ERROR_DESCRIPTIONS[code])


class ApiSchema(AutoSchema):
    """Adds to each operation the errors it can answer and the ranges of its parameters."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        parameters: list[dict[str, Any]] = operation.get("parameters", [])
        for parameter in parameters:
            _add_ranges(parameter)
        responses: dict[str, Any] = operation["responses"]
        for code in sorted(self._error_codes(operation)):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(error_response(code), str(code))
        return operation

    def _error_codes(self, operation: Mapping[str, Any]) -> set[int]:
        codes: set[int] = set()
        if any(requirement for requirement in operation.get("security", [{}])):
            codes |= {401, 403}
        parameters = operation.get("parameters", [])
        if any(p["in"] == "path" for p in parameters):
            codes.add(404)
        if any(p["in"] == "query" for p in parameters):
            codes.add(400)
        if any(p["in"] == "query" and p["name"] == "page" for p in parameters):
            codes.add(404)  # a page past the last one
        if "requestBody" in operation:
            codes |= {400, 413, 415}
        declared: Mapping[str, Collection[int]] = getattr(self.view, "schema_errors", {})
        action = getattr(self.view, "action", None) or self.method.lower()
        codes.update(declared.get(action, ()))
        codes.update(declared.get("*", ()))
        return codes


def _add_ranges(parameter: dict[str, Any]) -> None:
    schema = parameter.get("schema", {})
    if parameter["in"] == "path" and schema.get("type") == "integer":
        schema.setdefault("minimum", 1)
        schema.setdefault("maximum", MAX_ID)
    if parameter["in"] == "query" and not parameter.get("required"):
        # An empty value means "not given", as a form with a blank filter field sends it.
        parameter["allowEmptyValue"] = True
    if parameter["in"] == "query" and schema.get("type") == "string" and not schema.keys() & {"enum", "format"}:
        schema.setdefault("pattern", r"^[^\x00]*$")  # Django's form fields refuse NUL characters (a 400)

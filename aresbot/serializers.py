from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField

from aresbot.api import Conflict, django_errors_to_drf
from aresbot.errors import ServiceUnavailable


# Runs the model's own full_clean() on the would-be instance, so the API and the admin reject the same input with
# the same message (the rules live once, in Model.clean()). (A comment, not a docstring: drf-spectacular would
# show a docstring to the API's users as the description of every subclass.)
class ValidatedModelSerializer(serializers.ModelSerializer):
    owner_field = "owner"
    # Fields clean() may fill in or clear even when the request did not send them (defaults that depend on other
    # fields, values another field's change made meaningless): what it decided is saved too.
    normalized_fields: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except ValidationError as exc:
            if not isinstance(exc.detail, Mapping) or not isinstance(data, Mapping):
                raise
            # Some fields could not even be read (a word for a number …): check the others against the model's
            # rules too, so that one answer lists every field to fix.
            errors = dict(exc.detail)
            attrs = self._readable_fields_of(data, skip=errors)
            try:
                model_errors = self._model_errors(attrs, unreadable=errors)
            except ServiceUnavailable:
                model_errors = {}  # what needs a service (a symbol's market) is checked once these are fixed
            errors.update({k: v for k, v in model_errors.items() if k not in errors})
            raise ValidationError(errors) from None

    def _readable_fields_of(self, data: Mapping[str, Any], skip: Collection[str]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for field in self._writable_fields:
            if field.field_name is None or field.field_name in skip:
                continue
            try:
                self.set_value(attrs, field.source_attrs, field.run_validation(field.get_value(data)))
            except (ValidationError, DjangoValidationError, SkipField):
                pass
        return attrs

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance, errors = self._cleaned(attrs, unreadable=())
        if errors:
            raise ValidationError(errors)
        # clean() normalises some values (stripped names, upper-case symbols); keep what it decided.
        return {name: getattr(instance, name) for name in (*attrs, *self.normalized_fields)}

    def _model_errors(self, attrs: dict[str, Any], unreadable: Iterable[str]) -> dict[str, Any]:
        return self._cleaned(attrs, unreadable)[1]

    def _cleaned(self, attrs: Mapping[str, Any], unreadable: Iterable[str]) -> tuple[models.Model, dict[str, Any]]:
        model: type[models.Model] = self.Meta.model
        if self.instance is not None:
            # A copy, so a rejected update leaves the caller's instance as it was.
            instance = copy.copy(self.instance)
        else:
            instance = model()
            setattr(instance, self.owner_field, self.context["request"].user)
        for name, value in attrs.items():
            setattr(instance, name, value)
        unreadable = [str(self.fields[name].source) for name in unreadable if name in self.fields]
        for source in unreadable:
            # Unknown, not the default: a rule about several fields must not judge a value nobody sent.
            setattr(instance, _attname(model, source), None)
        # Fields the client cannot write (hashes, timestamps) are the server's business, not input to check.
        writable = {f.source for f in self.fields.values() if not f.read_only} | {self.owner_field}
        exclude = [f.name for f in model._meta.concrete_fields if f.name not in writable or f.name in unreadable]
        try:
            instance.full_clean(exclude=exclude, validate_constraints=False)
        except DjangoValidationError as exc:
            return instance, dict(django_errors_to_drf(exc).detail)  # type: ignore[arg-type]
        return instance, {}

    def save(self, **kwargs: Any) -> Any:
        try:
            with transaction.atomic():
                return super().save(**kwargs)
        except IntegrityError:
            # Validation passed, then the database refused: another request wrote a row that clashes (the same
            # name) in between. Validating again now sees that row and names the field.
            errors = self._model_errors({**self.validated_data, **kwargs}, unreadable=())
            if errors:
                raise ValidationError(errors) from None
            raise Conflict("Another request changed the same data at the same time; try again.") from None


def _attname(model: type[models.Model], source: str) -> str:
    """`account` → `account_id`: a relation is unset through its column, as assigning None to it may refuse."""
    try:
        return str(getattr(model._meta.get_field(source), "attname", source))
    except FieldDoesNotExist:  # not a model field (a write-only input)
        return source


class JSONField(serializers.JSONField):
    """DRF's JSONField, but `null` sent in a form ("null" as text) is refused like a JSON null: DRF checks for null
    before it parses a form's text, so the parsed None would otherwise slip through as a value."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if value is None and not self.allow_null:
            self.fail("null")
        return value

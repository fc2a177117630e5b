from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from aresbot.api import django_errors_to_drf


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's own full_clean() on the would-be instance, so the API and the admin reject the same
    input with the same message (the rules live once, in Model.clean())."""

    owner_field = "owner"
    # Fields clean() may fill in or clear even when the request did not send them (defaults that depend on other
    # fields, values another field's change made meaningless): what it decided is saved too.
    normalized_fields: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model: type[models.Model] = self.Meta.model
        if self.instance is not None:
            # A copy, so a rejected update leaves the caller's instance as it was.
            instance = copy.copy(self.instance)
        else:
            instance = model()
            setattr(instance, self.owner_field, self.context["request"].user)
        for name, value in attrs.items():
            setattr(instance, name, value)
        # Fields the client cannot write (hashes, timestamps) are the server's business, not input to check.
        writable = {f.source for f in self.fields.values() if not f.read_only} | {self.owner_field}
        exclude = [f.name for f in model._meta.concrete_fields if f.name not in writable]
        try:
            instance.full_clean(exclude=exclude, validate_constraints=False)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        # clean() normalises some values (stripped names, upper-case symbols); keep what it decided.
        return {name: getattr(instance, name) for name in (*attrs, *self.normalized_fields)}

"""A model field whose column holds only ciphertext, and whose loaded value stays sealed until asked."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts import crypto


class SealedSecret:
    """A credential as loaded from the database: decrypted only by `reveal()`, never by str() or repr()."""

    __slots__ = ("field", "token")

    def __init__(self, token: str, field: str) -> None:
        self.token = token
        self.field = field

    def reveal(self, keyring: crypto.Keyring | None = None) -> str:
        return crypto.decrypt(self.token, field=self.field, keyring=keyring)

    @property
    def key_id(self) -> str:
        return crypto.stored_key_id(self.token)

    def __repr__(self) -> str:
        return f"<SealedSecret {self.field} key={self.key_id}>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedSecret) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


SecretValue = str | SealedSecret


def reveal(value: SecretValue | None) -> str:
    """Plaintext of a credential attribute, whether just assigned (str) or loaded (SealedSecret)."""
    if value is None or value == "":
        return ""
    if isinstance(value, SealedSecret):
        return value.reveal()
    return value


class EncryptedTextField(models.TextField):
    """Assign plaintext; it is encrypted on save and the attribute becomes a SealedSecret."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> SecretValue:
        if not value:
            return ""
        return SealedSecret(value, self.name)

    def to_python(self, value: Any) -> SecretValue:
        if value is None:
            return ""
        if isinstance(value, SealedSecret):
            return value
        return str(value)

    def pre_save(self, model_instance: models.Model, add: bool) -> SecretValue:
        value = getattr(model_instance, self.attname)
        if isinstance(value, str) and value:
            value = SealedSecret(crypto.encrypt(value, field=self.name), self.name)
            setattr(model_instance, self.attname, value)
        return value or ""

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, SealedSecret):
            return value.token
        if not value:
            return ""
        # Plaintext reaching here bypassed pre_save (a queryset.update): encrypt it all the same.
        return crypto.encrypt(str(value), field=self.name)

    def value_to_string(self, obj: models.Model) -> str:
        return self.get_prep_value(self.value_from_object(obj))

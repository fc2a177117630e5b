"""Credentials at rest: AES-256-GCM under ENCRYPTION_KEY, with the key's id stored beside every value.

A stored value reads `v1:<key id>:<base64 nonce + ciphertext + tag>`. The key id is a short fingerprint of the
key, so a value written under an older key still names the key it needs: during a rotation the old key goes in
ENCRYPTION_OLD_KEYS, `manage.py rotate_encryption_key` re-encrypts every value under ENCRYPTION_KEY, and the
old key can then be dropped. The field name is bound in as associated data, so a ciphertext copied from the
`api_secret` column into `api_key` fails to decrypt instead of leaking through a masked read.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FORMAT_VERSION = "v1"
_NONCE_BYTES = 12


class CredentialKeyError(ImproperlyConfigured):
    """Stored credentials cannot be decrypted with the configured keys (a wrong or missing ENCRYPTION_KEY)."""


def key_id(hex_key: str) -> str:
    return hashlib.sha256(b"aresbot-credential-key:" + bytes.fromhex(hex_key)).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    current: str
    old: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> Keyring:
        return cls(current=settings.ENCRYPTION_KEY, old=tuple(settings.ENCRYPTION_OLD_KEYS))

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def key_for(self, wanted_id: str) -> bytes:
        for candidate in (self.current, *self.old):
            if key_id(candidate) == wanted_id:
                return bytes.fromhex(candidate)
        raise CredentialKeyError(
            f"stored credentials were encrypted with key id {wanted_id}, but ENCRYPTION_KEY has id "
            f"{self.current_id} and ENCRYPTION_OLD_KEYS holds {len(self.old)} other key(s): set ENCRYPTION_KEY "
            "(or ENCRYPTION_OLD_KEYS during a rotation) to the key these credentials were written with"
        )


def encrypt(plaintext: str, *, field: str, keyring: Keyring | None = None) -> str:
    ring = keyring or Keyring.from_settings()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(bytes.fromhex(ring.current)).encrypt(nonce, plaintext.encode("utf-8"), field.encode())
    return f"{FORMAT_VERSION}:{ring.current_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def stored_key_id(token: str) -> str:
    return _split(token)[1]


def decrypt(token: str, *, field: str, keyring: Keyring | None = None) -> str:
    ring = keyring or Keyring.from_settings()
    _, wanted_id, payload = _split(token)
    key = ring.key_for(wanted_id)
    try:
        raw = base64.b64decode(payload, validate=True)
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], field.encode())
    except (InvalidTag, ValueError):
        raise CredentialKeyError(
            f"stored {field} failed authentication under key id {wanted_id}: the value was altered or belongs "
            "to another field"
        ) from None
    return plain.decode("utf-8")


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        raise CredentialKeyError("a stored credential is not in the v1 encrypted format; it cannot be read")
    return parts[0], parts[1], parts[2]


def mask(plaintext: str) -> str:
    """`****abcd`: enough to tell two keys apart, never enough to use one. Short values show nothing."""
    if len(plaintext) >= 12:
        return "****" + plaintext[-4:]
    return "****"

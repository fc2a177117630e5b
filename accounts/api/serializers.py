from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.crypto import mask
from accounts.fields import reveal
from accounts.models import ApiToken, ExchangeAccount
from aresbot.serializers import ValidatedModelSerializer


@extend_schema_field(OpenApiTypes.STR)
class _MaskedSecret(serializers.Field):
    """Read-only view of a credential: `****abcd`, or null when none is stored."""

    def __init__(self, source_field: str) -> None:
        super().__init__(source="*", read_only=True)
        self.source_field = source_field

    def to_representation(self, account: ExchangeAccount) -> str | None:
        plain = reveal(getattr(account, self.source_field))
        return mask(plain) if plain else None


def _credential_input(label: str) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=2048,
        style={"input_type": "password"},
        help_text=f"{label}. Write-only: omit it to keep the stored value, send an empty string to clear it.",
    )


class ExchangeAccountSerializer(ValidatedModelSerializer):
    api_key = _credential_input("API key")
    api_secret = _credential_input("API secret")
    passphrase = _credential_input("API passphrase (OKX, KuCoin …)")
    api_key_masked = _MaskedSecret("api_key")
    api_secret_masked = _MaskedSecret("api_secret")
    passphrase_masked = _MaskedSecret("passphrase")
    paper_balances = serializers.JSONField(required=False)
    strategy_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ExchangeAccount
        fields = [
            "id",
            "name",
            "exchange",
            "testnet",
            "paper_balances",
            "is_active",
            "api_key",
            "api_secret",
            "passphrase",
            "api_key_masked",
            "api_secret_masked",
            "passphrase_masked",
            "strategy_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: ExchangeAccount) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not hasattr(instance, "strategy_count"):
            data["strategy_count"] = instance.strategies.count()
        return data


class ApiTokenSerializer(ValidatedModelSerializer):
    owner_field = "user"

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]


class IssuedApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once, now. Only its hash is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]

from __future__ import annotations

import logging
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.crypto import CredentialKeyError, mask
from accounts.fields import reveal
from accounts.models import PRICE_SOURCE_FIELDS, ApiToken, ExchangeAccount
from aresbot.serializers import JSONField, ValidatedModelSerializer
from exchanges.paper.sources import DATASETS

logger = logging.getLogger(__name__)


@extend_schema_field(OpenApiTypes.STR)
class _MaskedSecret(serializers.Field):
    """Read-only view of a credential: `****abcd`, or null when none is stored or it cannot be read (then
    `credentials_error` says why)."""

    def __init__(self, source_field: str) -> None:
        super().__init__(
            source="*", read_only=True, allow_null=True, help_text="The stored value's last characters, or null."
        )
        self.source_field = source_field

    def to_representation(self, account: ExchangeAccount) -> str | None:
        try:
            plain = reveal(getattr(account, self.source_field))
        except CredentialKeyError:
            return None
        return mask(plain) if plain else None


@extend_schema_field({"type": "string", "nullable": True})
class _CredentialsError(serializers.Field):
    """Why the stored credentials cannot be read (a wrong ENCRYPTION_KEY), or null when they can. One account in
    that state is shown with this message rather than failing the whole list."""

    def __init__(self) -> None:
        super().__init__(source="*", read_only=True)

    def to_representation(self, account: ExchangeAccount) -> str | None:
        try:
            account.check_credentials_readable()
        except CredentialKeyError as exc:
            logger.warning("account %s: %s", account.pk, exc)
            return f"Server misconfiguration: {exc}"
        return None


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
    """An exchange account: the exchange (or paper trading) and its API credentials, shown masked."""

    normalized_fields = PRICE_SOURCE_FIELDS
    api_key = _credential_input("API key")
    api_secret = _credential_input("API secret")
    passphrase = _credential_input("API passphrase (OKX, KuCoin …)")
    api_key_masked = _MaskedSecret("api_key")
    api_secret_masked = _MaskedSecret("api_secret")
    passphrase_masked = _MaskedSecret("passphrase")
    credentials_error = _CredentialsError()
    paper_balances = JSONField(
        required=False, help_text='Paper accounts only: starting balances, e.g. {"USDT": "10000"}.'
    )
    replay_dataset = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=50,
        help_text="Paper accounts replaying candles: the data set, one of "
        + "; ".join(f"{name} ({d.symbol}): {d.description}" for name, d in sorted(DATASETS.items()))
        + ". Its symbol is the one market such an account trades.",
    )
    strategy_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ExchangeAccount
        fields = [
            "id",
            "name",
            "exchange",
            "testnet",
            "paper_balances",
            "price_source",
            "price_exchange",
            "replay_dataset",
            "replay_speed",
            "is_active",
            "api_key",
            "api_secret",
            "passphrase",
            "api_key_masked",
            "api_secret_masked",
            "passphrase_masked",
            "credentials_error",
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
    """An API token; only its first characters are shown."""

    owner_field = "user"

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]


class IssuedApiTokenSerializer(ApiTokenSerializer):
    """A new API token, with the token itself: copy it now, it is not shown again."""

    token = serializers.CharField(read_only=True, help_text="Shown once, now. Only its hash is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class AccountVerificationSerializer(serializers.Serializer):
    """Whether the stored API key works with the exchange, and why not when it does not."""

    ok = serializers.BooleanField()
    exchange = serializers.CharField()
    assets = serializers.IntegerField(help_text="How many assets have a non-zero balance (when ok).")
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why not, when ok is false: bad_key, key_or_ip_rejected (Binance -2015: wrong key, IP not "
        "whitelisted or missing permission), ip_not_whitelisted, no_trade_permission, unreachable, rate_limited, "
        "clock_skew, exchange_error; for a paper account, why its price source cannot be read (unreachable, "
        "rate_limited, exchange_error for live prices; data_set_unreadable for a replay).",
    )
    detail = serializers.CharField(
        help_text="A message for people; it never contains credentials. For a paper account: what its price source "
        "gives (the prices read, or the replayed data set)."
    )
    warnings = serializers.ListField(child=serializers.CharField())

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "ok": instance.ok,
            "exchange": instance.exchange,
            "assets": instance.assets,
            "reason": None if instance.ok else str(instance.reason),
            "detail": instance.detail,
            "warnings": list(instance.warnings),
        }


class AssetBalanceSerializer(serializers.Serializer):
    asset = serializers.CharField()
    free = serializers.CharField(help_text="Decimal string.")
    locked = serializers.CharField(help_text="Decimal string: held by open orders.")
    total = serializers.CharField(help_text="Decimal string: free + locked.")


class AccountBalanceSerializer(serializers.Serializer):
    """The account's assets with a balance above zero, by name."""

    exchange = serializers.CharField()
    balances = AssetBalanceSerializer(many=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        exchange, balances = instance
        return {
            "exchange": exchange,
            "balances": [
                {
                    "asset": asset,
                    "free": format(b.free.normalize(), "f"),
                    "locked": format(b.locked.normalize(), "f"),
                    "total": format(b.total.normalize(), "f"),
                }
                for asset, b in sorted(balances.items())
            ],
        }


class ExchangeProblemSerializer(serializers.Serializer):
    """The exchange could not answer: it refused (502), or it was unreachable or rate-limited (503)."""

    ok = serializers.BooleanField(default=False)
    reason = serializers.CharField()
    detail = serializers.CharField()

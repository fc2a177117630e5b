from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.crypto import CredentialKeyError
from accounts.errors import AccountCannotTrade
from accounts.fields import EncryptedTextField, SealedSecret, reveal
from exchanges import registry
from exchanges.models import PaperBookRecord
from exchanges.paper.sources import (
    DATASETS,
    DEFAULT_LIVE_EXCHANGE,
    MAX_REPLAY_SPEED,
    MIN_REPLAY_SPEED,
    PriceSource,
    PriceSourceKind,
)
from exchanges.paper.store import book_key
from trading.runtime.spec import AccountSpec

if TYPE_CHECKING:
    from trading.runtime.markets import MarketList

ASSET_RE = re.compile(r"^[A-Z0-9]{1,20}$")
MAX_CREDENTIAL_LENGTH = 512
MAX_PAPER_BALANCE = Decimal("1e15")
MAX_PAPER_ASSETS = 20
# A paper account's price source; a real exchange account trades at its exchange's prices and has none of them.
PRICE_SOURCE_FIELDS = ("price_source", "price_exchange", "replay_dataset", "replay_speed")
SECRET_FIELDS = ("api_key", "api_secret", "passphrase")


class ExchangeAccount(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_accounts")
    name = models.CharField(max_length=100)
    exchange = models.CharField(
        max_length=50, help_text="A CCXT exchange id such as binance, or 'paper' for simulated trading."
    )
    api_key = EncryptedTextField(blank=True, default="")
    api_secret = EncryptedTextField(blank=True, default="")
    passphrase = EncryptedTextField(
        blank=True, default="", help_text="Only for exchanges that require one (OKX, KuCoin …)."
    )
    testnet = models.BooleanField(default=False, help_text="Trade on the exchange's testnet/sandbox.")
    paper_balances = models.JSONField(
        default=dict, blank=True, help_text='Paper accounts only: starting balances, e.g. {"USDT": "10000"}.'
    )
    price_source = models.CharField(
        max_length=10,
        choices=[(k.value, k.value) for k in PriceSourceKind],
        blank=True,
        default="",
        help_text="Paper accounts only: where the prices come from. live: an exchange's public prices "
        f"(price_exchange, default {DEFAULT_LIVE_EXCHANGE}); replay: a candle data set shipped with AresBot "
        "(replay_dataset) at replay_speed times real time. Empty on a paper account means live.",
    )
    price_exchange = models.CharField(
        max_length=50,
        blank=True,
        default="",
        help_text=f"Paper accounts with live prices: the exchange whose public prices they follow (a CCXT id, "
        f"default {DEFAULT_LIVE_EXCHANGE}); its markets are the symbols the account can trade.",
    )
    replay_dataset = models.CharField(
        max_length=50,
        blank=True,
        default="",
        help_text="Paper accounts replaying candles: the name of a candle data set shipped with AresBot.",
    )
    replay_speed = models.DecimalField(
        max_digits=9,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=f"Paper accounts replaying candles: data time per real time, {MIN_REPLAY_SPEED:f} to "
        f"{MAX_REPLAY_SPEED:f} (default 1).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="account_name_unique_per_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.exchange})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or set(update_fields) & set(SECRET_FIELDS):
            # Before anything is written: a value saved under a wrong ENCRYPTION_KEY beside values kept under the
            # right one would leave the row readable under neither.
            try:
                self.check_credentials_readable()
            except CredentialKeyError as exc:
                raise CredentialKeyError(f"nothing was saved: {exc}") from None
        with transaction.atomic():
            changed = self._changed_price_field(self._stored()) is not None
            super().save(*args, **kwargs)
            if changed:
                # The paper book keeps the feed each symbol was first traded on (so every process and a failover
                # see one price path); a new source must replace it, or the change would never take effect.
                PaperBookRecord.objects.filter(key=book_key(self.pk)).update(feeds={})

    @property
    def is_paper(self) -> bool:
        return self.exchange == registry.PAPER

    def check_credentials_readable(self) -> None:
        """CredentialKeyError (naming ENCRYPTION_KEY) when a stored credential cannot be decrypted with the
        configured keys. Values just assigned in plaintext replace what is stored, so they are not checked."""
        for field in SECRET_FIELDS:
            value = getattr(self, field)
            if isinstance(value, SealedSecret):
                value.reveal()

    def check_can_trade(self) -> None:
        """Raise AccountCannotTrade naming the reason when an engine could not trade on this account: the one
        check before a start, whoever asks for it (API, admin, commands)."""
        if not self.is_active:
            raise AccountCannotTrade(f"Account {self.name!r} is inactive: activate it first.")
        if not registry.is_supported(self.exchange):
            raise AccountCannotTrade(f"Account {self.name!r} names an unknown exchange.")
        needs = registry.credential_needs(self.exchange)
        if (needs.api_key and not self.api_key) or (needs.secret and not self.api_secret):
            raise AccountCannotTrade(f"Account {self.name!r} has no API credentials.")

    def clean(self) -> None:
        errors: dict[str, str] = {}
        stored = self._stored()
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = "Name is required (1 to 100 characters)."
        self.exchange = (self.exchange or "").strip().lower()
        if not registry.is_supported(self.exchange):
            errors["exchange"] = (
                f"Unknown exchange {self.exchange!r}: use 'paper' or a CCXT exchange id such as 'binance'."
            )
        for field in ("api_key", "api_secret", "passphrase"):
            value = getattr(self, field)
            if isinstance(value, str) and len(value) > MAX_CREDENTIAL_LENGTH:
                errors[field] = f"Must be at most {MAX_CREDENTIAL_LENGTH} characters."
            elif isinstance(value, str) and value != value.strip():
                errors[field] = "Must not start or end with whitespace (a copy-paste slip?)."
        if self.owner_id is not None and "name" not in errors:
            same_name = ExchangeAccount.objects.filter(owner_id=self.owner_id, name__iexact=self.name).exclude(
                pk=self.pk
            )
            if same_name.exists():
                errors["name"] = f"You already have an account named {self.name!r}."
        if "exchange" not in errors:
            errors.update(self._clean_for_exchange(stored))
            if stored and "exchange" not in errors and stored["exchange"] != self.exchange and self.strategies.exists():
                errors["exchange"] = "The exchange of an account that has strategies cannot change."
        if not errors:
            errors.update(self._clean_price_change(stored))
        if errors:
            raise ValidationError(errors)

    def _stored(self) -> dict[str, Any]:
        """The row as it is in the database (empty for a new account): what this change changes."""
        if self.pk is None:
            return {}
        return ExchangeAccount.objects.filter(pk=self.pk).values("exchange", *PRICE_SOURCE_FIELDS).first() or {}

    def _clean_for_exchange(self, stored: dict[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        if self.is_paper:
            for field in ("api_key", "api_secret", "passphrase"):
                if getattr(self, field):
                    errors[field] = "Paper accounts take no API credentials."
            if self.testnet:
                errors["testnet"] = "Paper accounts have no testnet."
            try:
                self.paper_balances = normalize_balances(self.paper_balances)
            except ValidationError as exc:
                errors["paper_balances"] = exc.messages[0]
            errors.update(self._clean_price_source(stored))
            return errors
        if self.paper_balances is None:
            self.paper_balances = {}  # none: a form's "null" for an account that has no starting balances
        if self.paper_balances:
            errors["paper_balances"] = "Only paper accounts have starting balances."
        errors.update(self._refuse_unmeant(stored, PRICE_SOURCE_FIELDS, "Only paper accounts have a price source."))
        if self.testnet and not registry.has_sandbox(self.exchange):
            errors["testnet"] = f"{self.exchange} has no testnet/sandbox that AresBot can use: switch testnet off."
        needs = registry.credential_needs(self.exchange)
        for field, needed in (
            ("api_key", needs.api_key),
            ("api_secret", needs.secret),
            ("passphrase", needs.passphrase),
        ):
            if needed and not getattr(self, field):
                errors[field] = f"{self.exchange} requires this credential."
        return errors

    def _refuse_unmeant(self, stored: dict[str, Any], fields: tuple[str, ...], message: str) -> dict[str, str]:
        """Fields this kind of account gives no meaning: a value sent now is refused naming the field; one left
        over from before (a paper account made a Binance one, a replay made live) is dropped, so that switching
        needs no clean-up first."""
        errors: dict[str, str] = {}
        for field in fields:
            value = getattr(self, field)
            if value in ("", None):
                continue
            if stored.get(field) == value:
                setattr(self, field, None if field == "replay_speed" else "")
            else:
                errors[field] = message
        return errors

    def _clean_price_source(self, stored: dict[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        self.price_source = str(self.price_source or PriceSourceKind.LIVE).strip().lower()
        if self.price_source == PriceSourceKind.LIVE:
            self.price_exchange = (self.price_exchange or DEFAULT_LIVE_EXCHANGE).strip().lower()
            if self.price_exchange == registry.PAPER or not registry.is_supported(self.price_exchange):
                errors["price_exchange"] = (
                    f"Unknown exchange {self.price_exchange!r}: name a CCXT exchange id such as "
                    f"{DEFAULT_LIVE_EXCHANGE!r} whose public prices the account follows."
                )
            only_replay = "Only a replay price source has this."
            errors.update(self._refuse_unmeant(stored, ("replay_dataset", "replay_speed"), only_replay))
        elif self.price_source == PriceSourceKind.REPLAY:
            names = ", ".join(sorted(DATASETS))
            if not self.replay_dataset:
                errors["replay_dataset"] = f"A replay needs a data set: one of {names}."
            elif self.replay_dataset not in DATASETS:
                errors["replay_dataset"] = f"Unknown data set {self.replay_dataset!r}: choose one of {names}."
            if self.replay_speed is None:
                self.replay_speed = Decimal(1)
            speed = self.replay_speed
            if isinstance(speed, Decimal) and not (speed.is_finite() and MIN_REPLAY_SPEED <= speed <= MAX_REPLAY_SPEED):
                errors["replay_speed"] = (
                    f"Must be between {MIN_REPLAY_SPEED:f} and {MAX_REPLAY_SPEED:f} times real time."
                )
            errors.update(self._refuse_unmeant(stored, ("price_exchange",), "Only a live price source has this."))
        else:
            errors["price_source"] = "Must be live or replay."
        return errors

    def _changed_price_field(self, stored: dict[str, Any]) -> str | None:
        """The field naming a change of this paper account's price source, None when the source stays the same."""
        if stored.get("exchange") != registry.PAPER or not self.is_paper:
            return None
        if price_source_of(stored) == self.paper_prices():
            return None
        return next((f for f in PRICE_SOURCE_FIELDS if stored.get(f) != getattr(self, f)), "price_source")

    def _clean_price_change(self, stored: dict[str, Any]) -> dict[str, str]:
        """A paper account's strategies trade at its source's prices: none may be running when it changes, and the
        new source must have every market they trade."""
        field = self._changed_price_field(stored)
        if field is None:
            return {}
        from strategies.choices import DesiredState  # the account's strategies, read here only

        strategies = list(self.strategies.values_list("name", "symbol", "desired_state"))
        running = [name for name, _, state in strategies if state == DesiredState.RUNNING]
        if running:
            names = ", ".join(repr(n) for n in running)
            return {field: f"Stop the account's strategies before changing its price source (running: {names})."}
        if not strategies:
            return {}
        markets = self.markets()
        missing = [f"{name!r} ({symbol})" for name, symbol, _ in strategies if symbol not in markets.symbols]
        if missing:
            return {field: f"{markets.venue} has no market for the strategies {', '.join(missing)}."}
        return {}

    def paper_prices(self) -> PriceSource | None:
        """The price source of a paper account (None for a real exchange's), as the runtime builds its feed."""
        if not self.is_paper:
            return None
        return price_source_of({field: getattr(self, field) for field in PRICE_SOURCE_FIELDS})

    def markets(self) -> MarketList:
        """The markets a strategy on this account can trade (cached; MarketsUnavailable when they cannot be
        loaded): the exchange's, or a paper account's price source's."""
        from trading.runtime.markets import markets_for

        return markets_for(self.exchange, testnet=self.testnet, prices=self.paper_prices())

    def known_markets(self) -> MarketList | None:
        """`markets()` when known without asking the exchange (already loaded, cached or shipped), else None."""
        from trading.runtime.markets import known_markets_for

        return known_markets_for(self.exchange, testnet=self.testnet, prices=self.paper_prices())

    def exchange_spec(self) -> AccountSpec:
        """What the runtime's exchange factory needs to trade on this account, credentials revealed."""
        return AccountSpec(
            pk=self.pk,
            name=self.name,
            exchange=self.exchange,
            testnet=self.testnet,
            paper_balances=dict(self.paper_balances),
            prices=self.paper_prices(),
            api_key=reveal(self.api_key),
            secret=reveal(self.api_secret),
            passphrase=reveal(self.passphrase),
        )

    def credential_key_ids(self) -> set[str]:
        values: list[object] = [self.api_key, self.api_secret, self.passphrase]
        return {v.key_id for v in values if isinstance(v, SealedSecret)}


def price_source_of(values: Mapping[str, Any]) -> PriceSource:
    """A paper account's source from its fields; empty ones take their defaults (live prices from Binance)."""
    if values.get("price_source") == PriceSourceKind.REPLAY:
        return PriceSource(
            PriceSourceKind.REPLAY,
            exchange="",
            dataset=values.get("replay_dataset") or "",
            speed=values.get("replay_speed") or Decimal(1),
        )
    return PriceSource(PriceSourceKind.LIVE, exchange=values.get("price_exchange") or DEFAULT_LIVE_EXCHANGE)


def normalize_balances(raw: Any) -> dict[str, str]:
    """{"usdt": 100} → {"USDT": "100"}: assets upper-case, amounts exact decimal strings, within range."""
    if not isinstance(raw, dict) or not raw:
        raise ValidationError('Give at least one starting balance, e.g. {"USDT": "10000"}.')
    if len(raw) > MAX_PAPER_ASSETS:
        raise ValidationError(f"At most {MAX_PAPER_ASSETS} assets.")
    clean: dict[str, str] = {}
    for asset, amount in raw.items():
        code = str(asset).strip().upper()
        if not ASSET_RE.match(code):
            raise ValidationError(f"Asset {asset!r} is not a currency code (letters and digits, 1 to 20).")
        if isinstance(amount, bool) or not isinstance(amount, (str, int, float, Decimal)):
            raise ValidationError(f"Balance of {code} must be a number.")
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise ValidationError(f"Balance of {code} must be a number, got {amount!r}.") from None
        if not value.is_finite() or value < 0 or value > MAX_PAPER_BALANCE:
            raise ValidationError(f"Balance of {code} must be between 0 and {MAX_PAPER_BALANCE:f}.")
        clean[code] = format(value.normalize(), "f")
    return clean


TOKEN_PREFIX = "ab_"


def _hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so an unsalted SHA-256 is enough (as GitHub does for its tokens).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenManager(models.Manager["ApiToken"]):
    def issue(self, user: Any, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
        """Create a token and return it with its plaintext, which is never stored and cannot be shown again."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.model(
            user=user,
            name=name,
            prefix=raw[: len(TOKEN_PREFIX) + 6],
            token_hash=_hash_token(raw),
            expires_at=expires_at,
        )
        token.full_clean()
        token.save()
        return token, raw

    def authenticate(self, raw: str) -> ApiToken | None:
        token = self.select_related("user").filter(token_hash=_hash_token(raw)).first()
        if token is None or not token.user.is_active:
            return None
        if token.expires_at is not None and token.expires_at <= timezone.now():
            return None
        return token


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = "Name is required (1 to 100 characters)."
        if self._state.adding and self.expires_at is not None and self.expires_at <= timezone.now():
            errors["expires_at"] = "Must be in the future (or empty for a token that does not expire)."
        if errors:
            raise ValidationError(errors)

"""Writes to accounts, shared by the API, the admin and the management commands."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator
from django.db import transaction

from accounts import crypto
from accounts.adapter import MFA_SECRET_FIELD
from accounts.crypto import Keyring
from accounts.errors import AccountInUse
from accounts.fields import SealedSecret
from accounts.models import SECRET_FIELDS, ExchangeAccount
from aresbot.redis import get_redis
from exchanges.base import Balance, ExchangeError, FatalExchangeError, OrderRejected
from exchanges.models import PaperBookRecord
from exchanges.paper.sources import PriceSource, PriceSourceKind
from exchanges.paper.store import book_key

if TYPE_CHECKING:
    from exchanges.ccxt.exchange import CcxtExchange
    from exchanges.ccxt.verify import Verification


def delete_account(account: ExchangeAccount) -> None:
    with transaction.atomic():
        locked = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        count = locked.strategies.count()
        if count:
            raise AccountInUse(locked.name, count)
        locked.delete()


def rotate_account_keys(keyring: Keyring, *, dry_run: bool = False) -> tuple[int, int]:
    """Re-encrypt every stored credential under the current key. Returns (accounts changed, values changed).

    Each account is re-encrypted in its own transaction under a row lock, so a crash halfway leaves every
    account readable with either the old or the new key, and a rerun finishes the job.
    """
    accounts = values = 0
    for pk in ExchangeAccount.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            account = ExchangeAccount.objects.select_for_update().get(pk=pk)
            changed: list[str] = []
            for field in SECRET_FIELDS:
                value = getattr(account, field)
                if isinstance(value, SealedSecret) and value.key_id != keyring.current_id:
                    setattr(account, field, value.reveal(keyring))
                    changed.append(field)
            if changed:
                accounts += 1
                values += len(changed)
                if not dry_run:
                    account.save(update_fields=[*changed, "updated_at"])
    return accounts, values


# The encrypted entries of an authenticator's data: a TOTP secret, the recovery codes' seed (accounts/adapter.py).
SEALED_AUTHENTICATOR_DATA = ("secret", "seed")


def sealed_authenticator_values(authenticator: Authenticator) -> dict[str, str]:
    return {name: value for name in SEALED_AUTHENTICATOR_DATA if isinstance(value := authenticator.data.get(name), str)}


def rotate_authenticator_keys(keyring: Keyring, *, dry_run: bool = False) -> int:
    """Re-encrypt the two-factor secrets under the current key, one authenticator per transaction. Returns how
    many values were (or, in a dry run, would be) re-encrypted."""
    values = 0
    for pk in Authenticator.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            authenticator = Authenticator.objects.select_for_update().get(pk=pk)
            data = dict(authenticator.data)
            for name, token in sealed_authenticator_values(authenticator).items():
                if crypto.stored_key_id(token) != keyring.current_id:
                    plain = crypto.decrypt(token, field=MFA_SECRET_FIELD, keyring=keyring)
                    data[name] = crypto.encrypt(plain, field=MFA_SECRET_FIELD, keyring=keyring)
                    values += 1
            if data != authenticator.data and not dry_run:
                authenticator.data = data
                authenticator.save(update_fields=["data"])
    return values


# --- exchange checks (POST /api/accounts/{id}/verify, GET /api/accounts/{id}/balance) ---------------------------
API_MAX_WAIT = 5.0  # an API request waits this long at most for the shared rate limit, then answers rate_limited


def _api_exchange(account: ExchangeAccount) -> CcxtExchange:
    # Imported here: CCXT costs ~0.4 s to import, and most web requests never talk to an exchange.
    from exchanges.backoff import Backoff
    from exchanges.ccxt.ratelimit import SharedRateLimiter
    from trading.runtime.factory import ccxt_exchange_for

    # One attempt, short waits: a person is waiting for the answer, and will press the button again.
    limiter = SharedRateLimiter(get_redis(), max_wait=API_MAX_WAIT)
    return ccxt_exchange_for(account.exchange_spec(), limiter=limiter, backoff=Backoff(attempts=1))


def verify_account(account: ExchangeAccount) -> Verification:
    """Can this account's key read the balance and trade? A paper account: can its price source be read?"""
    from exchanges.ccxt.errors import Reason, reason_of
    from exchanges.ccxt.verify import Verification, verify
    from trading.runtime.factory import outbound_ip

    if account.is_paper:
        return verify_paper_prices(account)
    try:
        result = verify(_api_exchange(account))
    except ExchangeError as exc:
        result = Verification(False, account.exchange, reason_of(exc), str(exc))
    if result.reason in (Reason.IP_NOT_WHITELISTED, Reason.KEY_OR_IP_REJECTED) and outbound_ip() != "shared":
        result = replace(result, detail=f"{result.detail} (this server's outbound IP: {outbound_ip()})")
    return result


def verify_paper_prices(account: ExchangeAccount) -> Verification:
    """A paper account trades when its price source gives prices: the replay's data set loads, or the live
    exchange answers a ticker for each symbol the account's strategies trade (or for one of its markets)."""
    from exchanges.backoff import Backoff
    from exchanges.ccxt.errors import Reason, reason_of
    from exchanges.ccxt.ratelimit import SharedRateLimiter
    from exchanges.ccxt.verify import Verification
    from trading.runtime.factory import public_exchange

    assets = len(paper_balances(account))
    prices = account.paper_prices() or PriceSource()
    if prices.kind == PriceSourceKind.REPLAY:
        try:
            candles = prices.replay.load()
        except (KeyError, OSError, ValueError, ArithmeticError) as exc:
            detail = f"The price source, data set {prices.dataset!r}, cannot be read: {exc}"
            return Verification(False, account.exchange, Reason.DATA_SET_UNREADABLE, detail, assets)
        first, last = candles[0].open_time, candles[-1].open_time
        detail = (
            f"Replays {prices.replay.symbol} from data set {prices.dataset}: {len(candles)} candles, "
            f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC, at {prices.speed.normalize():f} times real time."
        )
        return Verification(True, account.exchange, detail=detail, assets=assets)
    symbols = sorted(set(account.strategies.values_list("symbol", flat=True)))
    try:
        limiter = SharedRateLimiter(get_redis(), max_wait=API_MAX_WAIT)
        exchange = public_exchange(prices.exchange, limiter=limiter, backoff=Backoff(attempts=1))
        if not symbols:
            exchange.load_markets()
            listed = sorted(exchange.client.markets)
            symbols = ["BTC/USDT"] if "BTC/USDT" in listed else listed[:1]
        quotes = [f"{symbol} at {exchange.fetch_price(symbol):f}" for symbol in symbols]
    except ExchangeError as exc:
        detail = f"The price source, {prices.exchange}'s public prices, cannot be read: {exc}"
        return Verification(False, account.exchange, reason_of(exc), detail, assets)
    detail = f"Live prices from {prices.exchange}: {', '.join(quotes) or 'no market listed'}."
    return Verification(bool(quotes), account.exchange, Reason.OK if quotes else Reason.EXCHANGE_ERROR, detail, assets)


def paper_balances(account: ExchangeAccount) -> dict[str, Balance]:
    """The paper book's balances, or the starting balances before the account has traded."""
    stored = PaperBookRecord.objects.filter(key=book_key(account.pk)).values_list("balances", flat=True).first()
    if stored is None:
        balances = {asset: Balance(Decimal(amount)) for asset, amount in account.paper_balances.items()}
    else:
        balances = {a: Balance(Decimal(b["free"]), Decimal(b["locked"])) for a, b in stored.items()}
    return {asset: b for asset, b in balances.items() if b.total}


def account_balances(account: ExchangeAccount) -> dict[str, Balance]:
    """Non-zero balances of the account; ExchangeError (classified) when the exchange cannot be asked."""
    if account.is_paper:
        return paper_balances(account)
    return _api_exchange(account).fetch_balance()


def classify_failure(error: ExchangeError) -> tuple[str, bool]:
    """(reason, refused): why an exchange call failed, and whether the exchange refused it (rather than being
    unreachable or rate-limited, which a later try may get past)."""
    from exchanges.ccxt.errors import reason_of

    return str(reason_of(error)), isinstance(error, FatalExchangeError | OrderRejected)

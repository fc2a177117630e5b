"""Which exchange ids an account may name, and what credentials each one needs. No Django here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

PAPER = "paper"


@dataclass(frozen=True)
class CredentialNeeds:
    api_key: bool
    secret: bool
    passphrase: bool


@cache
def ccxt_exchange_ids() -> frozenset[str]:
    import ccxt  # imported lazily: it costs ~0.4 s and most processes never need it

    return frozenset(ccxt.exchanges)


def is_supported(exchange_id: str) -> bool:
    return exchange_id == PAPER or exchange_id in ccxt_exchange_ids()


@cache
def credential_needs(exchange_id: str) -> CredentialNeeds:
    if exchange_id == PAPER:
        return CredentialNeeds(api_key=False, secret=False, passphrase=False)
    import ccxt

    required = getattr(ccxt, exchange_id)().requiredCredentials
    return CredentialNeeds(
        api_key=bool(required.get("apiKey")),
        secret=bool(required.get("secret")),
        passphrase=bool(required.get("password")),
    )


@cache
def has_sandbox(exchange_id: str) -> bool:
    """Whether CCXT knows a testnet/sandbox for the exchange (Binance: yes; most others: no)."""
    if exchange_id == PAPER:
        return False
    import ccxt

    try:
        getattr(ccxt, exchange_id)().set_sandbox_mode(True)
    except Exception:  # CCXT says NotSupported, or fails on its missing URLs with a TypeError
        return False
    return True

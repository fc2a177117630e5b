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


@dataclass(frozen=True)
class ExchangeInfo:
    """What an account on an exchange needs and can do: its name, its credentials, whether it has a testnet."""

    id: str
    name: str
    needs: CredentialNeeds
    testnet: bool


PAPER_INFO = ExchangeInfo(PAPER, "Paper trading", CredentialNeeds(api_key=False, secret=False, passphrase=False), False)


@cache
def describe(exchange_id: str) -> ExchangeInfo:
    """One CCXT exchange's name, credentials and testnet, from one instance of its class (making one costs tens of
    milliseconds: a hundred exchanges take seconds, so each is made once per process)."""
    if exchange_id == PAPER:
        return PAPER_INFO
    import ccxt

    client = getattr(ccxt, exchange_id)()
    required = client.requiredCredentials
    needs = CredentialNeeds(
        api_key=bool(required.get("apiKey")),
        secret=bool(required.get("secret")),
        passphrase=bool(required.get("password")),
    )
    try:
        client.set_sandbox_mode(True)
        sandbox = True
    except Exception:  # CCXT says NotSupported, or fails on its missing URLs with a TypeError
        sandbox = False
    return ExchangeInfo(exchange_id, str(client.name or exchange_id), needs, sandbox)


def credential_needs(exchange_id: str) -> CredentialNeeds:
    return describe(exchange_id).needs


def has_sandbox(exchange_id: str) -> bool:
    """Whether CCXT knows a testnet/sandbox for the exchange (Binance: yes; most others: no)."""
    return describe(exchange_id).testnet

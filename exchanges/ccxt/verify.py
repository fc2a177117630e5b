"""Checking an account's API key: can it read the balance, and may it trade? Answers with a classified reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exchanges.base import ExchangeError
from exchanges.ccxt.errors import Reason, reason_of
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.orders import balances_from_ccxt


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    exchange: str
    reason: Reason = Reason.OK
    detail: str = ""
    assets: int = 0
    warnings: tuple[str, ...] = field(default=())


def verify(exchange: CcxtExchange) -> Verification:
    """Fetch the balance (the one signed call every exchange has), then, on Binance, the key's restrictions."""
    name = exchange.exchange_id
    try:
        raw: Any = exchange.call(lambda: exchange.client.fetch_balance())
    except ExchangeError as exc:
        return Verification(False, name, reason_of(exc), str(exc))
    assets = len(balances_from_ccxt(raw))
    info = raw.get("info") if isinstance(raw, dict) else None
    if isinstance(info, dict) and info.get("canTrade") is False:
        return Verification(False, name, Reason.NO_TRADE_PERMISSION, f"{name}: this account may not trade", assets)
    warnings: list[str] = []
    if name == "binance" and not exchange.testnet:
        # The key's own permissions live in a wallet (sapi) endpoint that the testnet does not have.
        try:
            rules: Any = exchange.call(lambda: exchange.client.sapiGetAccountApiRestrictions())
        except ExchangeError as exc:
            warnings.append(f"could not read the key's restrictions: {exc}")
        else:
            if not rules.get("enableSpotAndMarginTrading"):
                detail = "Binance: the API key may read but not trade; enable 'Spot & Margin Trading' for it"
                return Verification(False, name, Reason.NO_TRADE_PERMISSION, detail, assets)
            if not rules.get("ipRestrict"):
                warnings.append("the key is not restricted to trusted IPs; Binance may disable its trading")
            if rules.get("enableWithdrawals"):
                warnings.append("the key may withdraw funds; a trading bot needs no withdrawal permission")
    return Verification(True, name, Reason.OK, "", assets, tuple(warnings))

"""Plain functions that make the rows the tests need: users, exchange accounts, strategies and the trade record.

Accounts and strategies pass the models' own `full_clean()`, as the API would make them; orders, fills and
positions are written as the engine's journal writes them. Every argument a test does not care about has a
default, so a test names only what it is about.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import ExchangeAccount
from strategies.models import Strategy
from trading.models import Fill, Order, Position

# Client order and trade ids unique across a whole test run, as the database requires.
_sequence = itertools.count(1)


def make_user(username: str, **fields: Any) -> User:
    return User.objects.create_user(username, password=f"{username}-password", **fields)


# A TOTP secret (base32) the tests know, so they can compute the codes an authenticator app would show.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_two_factor(user: User, secret: str = TOTP_SECRET) -> list[str]:
    """An authenticator app (TOTP) for the user, as the Security page sets one up; returns the recovery codes."""
    TOTP.activate(user, secret)
    codes: list[str] = RecoveryCodes.activate(user).get_unused_codes()
    return codes


def make_account(owner: User, name: str, exchange: str, **fields: Any) -> ExchangeAccount:
    account = ExchangeAccount(owner=owner, name=name, exchange=exchange, **fields)
    account.full_clean()
    account.save()
    return account


def make_paper_account(owner: User, name: str = "paper", **fields: Any) -> ExchangeAccount:
    return make_account(owner, name, "paper", **{"paper_balances": {"USDT": "10000"}, **fields})


def make_strategy(owner: User, account: ExchangeAccount, name: str = "grid", **fields: Any) -> Strategy:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "grid_levels": 5,
        "buy_offset_pct": Decimal("1"),
        "sell_offset_pct": Decimal("1"),
        "order_size_quote": Decimal("20"),
        **fields,
    }
    strategy = Strategy(owner=owner, account=account, name=name, **values)
    strategy.full_clean()
    strategy.save()
    return strategy


def make_order(
    strategy: Strategy,
    side: str = "buy",
    price: Decimal | str | int = "100",
    amount: Decimal | str | int = "1",
    *,
    status: str = "filled",
    **fields: Any,
) -> Order:
    """An order of the strategy: a grid buy or a take-profit by its side; a filled one is filled in full."""
    values: dict[str, Any] = {
        "client_order_id": f"ab{strategy.pk}-{next(_sequence)}",
        "symbol": strategy.symbol,
        "role": "grid_buy" if side == "buy" else "take_profit",
        "filled": Decimal(amount) if status == "filled" else Decimal(0),
        **fields,
    }
    return Order.objects.create(
        strategy=strategy, side=side, price=Decimal(price), amount=Decimal(amount), status=status, **values
    )


def make_fill(order: Order, executed_at: datetime | None = None, **fields: Any) -> Fill:
    """A trade of the order: by default all of it, at its price, now."""
    values: dict[str, Any] = {
        "trade_id": f"t{next(_sequence)}",
        "price": order.price,
        "amount": order.filled or order.amount,
        **fields,
    }
    return Fill.objects.create(
        order=order, strategy=order.strategy, side=order.side, executed_at=executed_at or timezone.now(), **values
    )


def make_position(entry_order: Order, opened_at: datetime | None = None, **fields: Any) -> Position:
    """The lot the entry order opened: by default all it bought, at its price; pass exit_order, closed_at,
    exit_price, realized_pnl and exit_reason for a closed one."""
    values: dict[str, Any] = {
        "quantity": entry_order.filled or entry_order.amount,
        "entry_price": entry_order.price,
        **fields,
    }
    return Position.objects.create(
        strategy=entry_order.strategy, entry_order=entry_order, opened_at=opened_at or timezone.now(), **values
    )

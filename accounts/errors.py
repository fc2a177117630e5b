"""What the account rules and services refuse (accounts/models.py, accounts/services.py)."""

from __future__ import annotations

from aresbot.errors import InvalidField, StateConflict


class AccountCannotTrade(InvalidField):
    """Inactive, an unknown exchange or missing credentials. `field` is the field of the request that named the
    account (a strategy's `account`)."""

    def __init__(self, message: str, field: str = "account") -> None:
        super().__init__(field, message)


class AccountInUse(StateConflict):
    """An account with strategies cannot be deleted."""

    def __init__(self, name: str, strategy_count: int) -> None:
        plural = "y" if strategy_count == 1 else "ies"
        super().__init__(f"Account {name!r} has {strategy_count} strateg{plural}: delete or move them first.")

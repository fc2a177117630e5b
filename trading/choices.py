"""The trade-record models' choices, made from the enums the core trades with: `Side`, `OrderType` and
`OrderStatus` (exchanges.base), `Role` and `ExitReason` (trading.core.types). Each value is defined there once;
a label is its value in words ("partially_filled" → "Partially filled")."""

from __future__ import annotations

from enum import StrEnum

from exchanges.base import OrderStatus, Side
from trading.backtests.states import BacktestStatus
from trading.core.types import EngineState, ExitReason, Role


def choices_of(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """[(value, label)] for a model field's or a filter's `choices`."""
    return [(member.value, member.value.replace("_", " ").capitalize()) for member in enum]


# Each set of choices once, by name: the API schema names its enums after these (settings.ENUM_NAME_OVERRIDES), so
# that a lot's exit_role and an order's role are one RoleEnum.
SIDE_CHOICES = choices_of(Side)
ORDER_STATUS_CHOICES = choices_of(OrderStatus)
ROLE_CHOICES = choices_of(Role)
EXIT_REASON_CHOICES = choices_of(ExitReason)
ENGINE_STATE_CHOICES = choices_of(EngineState)
BACKTEST_STATUS_CHOICES = choices_of(BacktestStatus)

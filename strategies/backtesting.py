"""A backtest's (or sweep's) grid and risk parameters: an own strategy's, overridden by what the request gives,
checked by the strategy rules themselves (BOUNDS and Strategy.clean(): the same ranges and messages as creating a
strategy), and stored as JSON (trading.backtests.params reads them back into an EngineConfig).

Here, in the strategies app, because the trading app never imports this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError

from exchanges.base import plain_number
from exchanges.markets import binance_spot_markets
from strategies.models import Strategy
from trading.backtests.params import PARAMETERS, engine_config

# Without a strategy these must be given; the others default as a new strategy's do.
REQUIRED_WITHOUT_STRATEGY = (
    "symbol",
    "grid_levels",
    "buy_offset_pct",
    "sell_offset_pct",
    "order_size_quote",
    "reprice_threshold_pct",
)


def resolve_parameters(
    owner: AbstractBaseUser | AnonymousUser,
    strategy: Strategy | int | None,
    overrides: Mapping[str, Any],
    *,
    default_symbol: str = "",
    shipped_market: bool = True,
) -> dict[str, Any]:
    """The parameters a backtest runs with, as stored JSON (numbers as decimal strings, None for a rule off).

    `strategy` (one of `owner`'s, or its id) gives symbol and parameters; `overrides` (typed values, as the
    serializer read them: int, Decimal, str, None) replace any of them. Without a strategy the REQUIRED ones must
    be given, except the symbol when `default_symbol` (the data set's market) is known. ValidationError naming each
    field and its allowed range otherwise, or for a symbol the paper exchange has no rules for (unless not
    `shipped_market`: candles downloaded from an exchange trade by that exchange's rules)."""
    errors: dict[str, str] = {}
    if strategy is not None:
        if not isinstance(strategy, Strategy):
            found = Strategy.objects.filter(owner_id=owner.pk, pk=strategy).first()
            if found is None:
                raise ValidationError({"strategy": f"You have no strategy with id {strategy}."})
            strategy = found
        values = {name: getattr(strategy, name) for name in PARAMETERS}
    else:
        defaults = Strategy()
        values = {name: getattr(defaults, name) for name in PARAMETERS if name not in REQUIRED_WITHOUT_STRATEGY}
        if default_symbol and "symbol" not in overrides:
            values["symbol"] = default_symbol
        for name in REQUIRED_WITHOUT_STRATEGY:
            if name not in overrides and name not in values:
                errors[name] = "This field is required unless a strategy is given."
    values.update({name: value for name, value in overrides.items() if name in PARAMETERS})
    candidate = Strategy(name="backtest", **{name: values.get(name) for name in PARAMETERS})
    try:
        candidate.clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field in PARAMETERS and field not in errors:
                errors[field] = " ".join(messages)
    if shipped_market and "symbol" not in errors and candidate.symbol not in binance_spot_markets():
        errors["symbol"] = (
            f"The backtester has no market rules for {candidate.symbol}: one of "
            f"{', '.join(sorted(binance_spot_markets()))}."
        )
    if errors:
        raise ValidationError(errors)
    resolved = {name: _stored(getattr(candidate, name)) for name in PARAMETERS}
    engine_config(resolved)  # the engine's own checks, which clean() covers: a mismatch is a bug, not a 400
    return resolved


def _stored(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_number(value)
    return value

"""The runtime's view of strategies (trading.runtime.spec.StrategySource), read from the database.

Named by the STRATEGY_SOURCE setting: the runtime reads strategies through it without importing this app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from strategies.backtesting import resolve_parameters
from strategies.choices import DesiredState
from strategies.models import BOUNDS, Strategy
from trading.core.events import Event
from trading.core.types import EngineConfig
from trading.events import last_run_event, mark_run_ended_on_error, record_events
from trading.runtime.spec import StrategySettings, StrategySpec


def engine_config_for(strategy: Strategy) -> EngineConfig:
    return EngineConfig(
        strategy_id=strategy.pk,
        symbol=strategy.symbol,
        grid_levels=strategy.grid_levels,
        buy_offset_pct=strategy.buy_offset_pct,
        sell_offset_pct=strategy.sell_offset_pct,
        order_size_quote=strategy.order_size_quote,
        reprice_threshold_pct=strategy.reprice_threshold_pct,
        loop_interval=strategy.loop_interval,
        max_positions=strategy.max_positions,
        stop_loss_pct=strategy.stop_loss_pct,
        time_stop_hours=strategy.time_stop_hours,
        daily_loss_limit=strategy.daily_loss_limit,
        max_consecutive_losses=strategy.max_consecutive_losses,
        cooldown_minutes=strategy.cooldown_minutes,
    )


def settings_of(strategy: Strategy) -> StrategySettings:
    return StrategySettings(
        strategy_id=strategy.pk,
        running=strategy.desired_state == DesiredState.RUNNING,
        cancel_all_on_stop=strategy.cancel_all_on_stop,
        stopped_by=strategy.stopped_by,
        version=strategy.updated_at,
        config=engine_config_for(strategy),
    )


def spec_of(strategy: Strategy) -> StrategySpec:
    return StrategySpec(
        strategy_id=strategy.pk,
        running=strategy.desired_state == DesiredState.RUNNING,
        cancel_all_on_stop=strategy.cancel_all_on_stop,
        stopped_by=strategy.stopped_by,
        version=strategy.updated_at,
        config=engine_config_for(strategy),
        owner_id=strategy.owner_id,
        name=strategy.name,
        account=strategy.account.exchange_spec(),
    )


class OrmStrategySource:
    def load(self, strategy_id: int) -> StrategySpec | None:
        strategy = Strategy.objects.select_related("account").filter(pk=strategy_id).first()
        return None if strategy is None else spec_of(strategy)

    def settings(self, strategy_id: int) -> StrategySettings | None:
        strategy = Strategy.objects.filter(pk=strategy_id).first()
        return None if strategy is None else settings_of(strategy)

    def wanted_ids(self) -> list[int]:
        return list(Strategy.objects.filter(desired_state=DesiredState.RUNNING).values_list("pk", flat=True))

    def record_events(self, strategy_id: int, events: Sequence[Event]) -> None:
        record_events(strategy_id, events)

    def last_run_event(self, strategy_id: int) -> Event | None:
        return last_run_event(strategy_id)

    def run_ended_on_error(self, strategy_id: int, job: str) -> None:
        mark_run_ended_on_error(strategy_id, job)

    def parameter_defaults(self) -> dict[str, Any]:
        new = Strategy()
        return {name: getattr(new, name) for name in BOUNDS}

    def parameter_errors(self, symbol: str, parameters: Mapping[str, Any]) -> dict[str, str]:
        try:
            resolve_parameters(AnonymousUser(), None, {**parameters, "symbol": symbol}, shipped_market=False)
        except ValidationError as exc:
            return {name: " ".join(messages) for name, messages in exc.message_dict.items()}
        return {}

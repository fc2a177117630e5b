"""What the runtime needs to know about a strategy, and the protocol it reads it through.

The runtime runs strategies but does not own them: the strategies app does (its rows, its rules). So the arrow
points from strategies to the runtime, the runtime defines the small protocol below, and the strategies app
implements it. The implementation is named by the `STRATEGY_SOURCE` setting (a dotted path, like
`AUTH_USER_MODEL`), so nothing in `trading/` imports `strategies` or `accounts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol, cast

from django.conf import settings
from django.utils.module_loading import import_string

from exchanges import registry
from exchanges.paper.sources import PriceSource
from trading.core.events import Event
from trading.core.types import EngineConfig


def _masked(value: str) -> str:
    return "'***'" if value else "''"


@dataclass(frozen=True, repr=False)
class AccountSpec:
    """The exchange account an engine trades on, with its credentials revealed (plaintext).

    The credentials must never reach a log: the repr masks them, and nothing here formats them.
    """

    pk: int
    name: str
    exchange: str  # a CCXT exchange id, or "paper"
    testnet: bool = False
    paper_balances: Mapping[str, str] = field(default_factory=dict)  # paper accounts: the starting balances
    prices: PriceSource | None = None  # paper accounts: where their prices come from (None: live from Binance)
    api_key: str = ""
    secret: str = ""
    passphrase: str = ""

    @property
    def is_paper(self) -> bool:
        return self.exchange == registry.PAPER

    def __repr__(self) -> str:
        return (
            f"AccountSpec(pk={self.pk!r}, name={self.name!r}, exchange={self.exchange!r}, testnet={self.testnet!r}, "
            f"paper_balances={dict(self.paper_balances)!r}, prices={self.prices!r}, api_key={_masked(self.api_key)}, "
            f"secret={_masked(self.secret)}, passphrase={_masked(self.passphrase)})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class StrategySettings:
    """What a running engine re-reads every few seconds: should it still run, and with which parameters."""

    strategy_id: int
    running: bool  # the desired state: True while the strategy should run
    version: datetime  # changes with every edit: the engine reconfigures when it does
    config: EngineConfig
    # Once stopped: whether the stop also cancels the take-profits, as the Redis stop signal would have said.
    cancel_all_on_stop: bool = field(default=False, kw_only=True)
    # Once stopped: who stopped it (owner, admin, system), for the stopped event; empty while it should run.
    stopped_by: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class StrategySpec(StrategySettings):
    """A strategy as the runtime builds its engine from: its settings, whose it is, and the account it trades on."""

    owner_id: int
    name: str
    account: AccountSpec

    @property
    def symbol(self) -> str:
        return self.config.symbol


class StrategySource(Protocol):
    """Where the runtime reads strategies from (implemented by the strategies app, named by STRATEGY_SOURCE)."""

    def load(self, strategy_id: int) -> StrategySpec | None:
        """The strategy with its account (credentials revealed); None when it was deleted."""
        ...

    def settings(self, strategy_id: int) -> StrategySettings | None:
        """The strategy without its account (cheaper, and no credentials); None when it was deleted."""
        ...

    def wanted_ids(self) -> list[int]:
        """Every strategy that should be running, for the supervisor (one query, whatever their number)."""
        ...

    def record_events(self, strategy_id: int, events: Sequence[Event]) -> None:
        """Write the runtime's own events (started, stopped, handed over, failed over) in a transaction."""
        ...

    def last_run_event(self, strategy_id: int) -> Event | None:
        """The latest started, stopped or handed-over event (one cheap query): how the last run ended, if it did."""
        ...

    def run_ended_on_error(self, strategy_id: int, job: str) -> None:
        """Note that the run `job` (its started event) ended on an error: a restart after the backoff is no
        failover."""
        ...


@cache
def strategy_source() -> StrategySource:
    """The configured source, made once per process."""
    return cast("StrategySource", import_string(settings.STRATEGY_SOURCE)())


class ParameterRules(Protocol):
    """A strategy's parameter rules, for parameters that are not saved as a strategy (backtests). The strategies
    app owns them; the STRATEGY_SOURCE object implements this beside StrategySource."""

    def parameter_defaults(self) -> dict[str, Any]:
        """A new strategy's parameters (EngineConfig's names) where none are given."""
        ...

    def parameter_errors(self, symbol: str, parameters: Mapping[str, Any]) -> dict[str, str]:
        """field → why, for each parameter (EngineConfig's names) the strategy rules refuse, with the messages
        saving a strategy would give; empty when all are good."""
        ...


def parameter_rules() -> ParameterRules:
    return cast("ParameterRules", strategy_source())

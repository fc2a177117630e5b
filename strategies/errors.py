"""What the strategy services refuse (strategies/services.py)."""

from __future__ import annotations

from aresbot.errors import StateConflict


class StrategyAlreadyRunning(StateConflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"Strategy {name!r} is already running.")


class StrategyIsRunning(StateConflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"Strategy {name!r} is running: stop it before deleting it.")

"""An experiment for bench/scale.py --preload, not a proposal of code: the StrategyWorker, but with the engine's
modules (trading.runtime.jobs → the exchange factory → ccxt) imported before RQ forks the work-horse, and the heap
frozen (gc.freeze) so the collector does not touch the inherited objects. The horse then shares those pages with its
worker (copy-on-write) instead of importing them again into memory of its own."""

from __future__ import annotations

import gc
from typing import Any

from trading.runtime.worker import StrategyWorker


class PreloadStrategyWorker(StrategyWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import trading.runtime.factory
        import trading.runtime.jobs  # noqa: F401

        gc.collect()
        gc.freeze()
        super().__init__(*args, **kwargs)

"""pytest plugin for mutation runs (bench/mutation.py): per mutant, only the area's tests, fastest first.

mutmut runs, for each mutant, every test that covered the mutated function during its stats run, in no particular
order, and stops at the first failure. Running the fastest first makes a killed mutant cost milliseconds instead of
the seconds of a runner test. Keeping to the area's tests (MUTATION_TESTS, node id prefixes; also in mutmut's clean
and forced-failure runs) keeps the tests that share Redis and the test database out of the areas that run two
mutants at once. While mutmut collects its stats every selected test runs, so the stats serve every area.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def _durations() -> dict[str, float]:
    try:
        stats = json.loads(Path("mutmut-stats.json").read_text())  # mutmut runs the tests inside mutants/
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in stats.get("duration_by_test", {}).items()}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("MUTANT_UNDER_TEST", "") in ("stats", "list_all_tests"):
        return  # mutmut maps tests to functions: it must see them all
    prefixes = tuple(os.environ.get("MUTATION_TESTS", "").split())
    if prefixes:
        dropped = [item for item in items if not item.nodeid.startswith(prefixes)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if item.nodeid.startswith(prefixes)]
    durations = _durations()
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))

"""Mutation testing of the code that guards money: mutmut over the core, the runtime, the exchange base, the paper
exchange and the shared rate limiter, area by area; then the score per module. Not part of CI: a full run takes
about an hour on two cores. See bench/README.md, "Mutation testing".

    .venv/bin/python bench/mutation.py [--areas core,paper-store,limiter,runtime,lease-fence] [--max-children N]
    .venv/bin/python bench/mutation.py --report [--survivors]      # the score of the last run, no testing

Configuration: `[tool.mutmut]` in pyproject.toml (what is mutated, which tests are relevant). mutmut 3 copies the
project into mutants/ and runs pytest there, one forked child per mutant, with the tests that covered the mutated
function. bench/mutmut_plugin.py narrows those to the area's tests (MUTATION_TESTS) and runs the fastest first.
Areas whose tests share Redis or the test database run one mutant at a time; the pure core runs two.

The environment is the test suite's (REDIS_URL: a Redis database the tests may flush; MYSQL_* or SQLite); the
SQLite test database defaults to a file of its own, made afresh by each run and kept between mutants (--reuse-db).
Inspect a survivor with `.venv/bin/mutmut show <name>`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Area:
    globs: tuple[str, ...]  # mutant names, as mutmut spells them: module.path.function__mutmut_N
    tests: tuple[str, ...]  # node id prefixes of the tests that judge these mutants
    children: int  # mutants tested at once


AREAS: dict[str, Area] = {
    "core": Area(
        (
            "trading.core.*",
            "exchanges.base.*",
            "exchanges.paper.exchange.*",
            "exchanges.paper.book.*",
            "exchanges.paper.feeds.*",
            "exchanges.paper.faults.*",
        ),
        ("tests/core/", "tests/paper/test_paper_exchange.py", "tests/paper/test_feeds.py"),
        2,  # pure tests: no Redis, no database
    ),
    "paper-store": Area(("exchanges.paper.store.*",), ("tests/paper/",), 1),
    "limiter": Area(("exchanges.ccxt.ratelimit.*",), ("tests/ccxt/test_shared_limiter.py",), 1),
    # The in-process runtime tests only: the RQ-worker ones (tests/runtime/test_runtime.py) take minutes a mutant.
    "runtime": Area(("trading.runtime.*",), ("tests/runtime/",), 1),
    # The part of the runtime that guards money, alone: the lease (coordination.Lease, breaking a stale lease, the
    # stop signal) and the fence and pulse of the runner. A fifth of the runtime's mutants, so it is a habit that
    # fits in a coffee break rather than the runtime's hour.
    "lease-fence": Area(
        (
            "trading.runtime.coordination.xǁLeaseǁ*",
            "trading.runtime.coordination.x_break_stale_lease*",
            "trading.runtime.coordination.x_stop_requested*",
            "trading.runtime.runner.xǁFencedExchangeǁ*",
            "trading.runtime.runner.xǁStrategyRunnerǁfence*",
            "trading.runtime.runner.xǁStrategyRunnerǁ_pulse*",
            "trading.runtime.runner.xǁStrategyRunnerǁ_beat*",
            "trading.runtime.runner.xǁStrategyRunnerǁcheck_lease*",
            "trading.runtime.runner.xǁStrategyRunnerǁ_release*",
        ),
        ("tests/runtime/",),
        1,
    ),
}

# mutmut's exit codes (mutmut/stats.py), grouped as the score counts them.
KILLED = {1: "killed", 3: "killed"}
TIMEOUT = {36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
OTHER = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 37: "type check"}


def status(exit_code: int | None) -> str:
    if exit_code is None:
        return "not checked"
    return KILLED.get(exit_code) or TIMEOUT.get(exit_code) or OTHER.get(exit_code, "suspicious")


def run_area(name: str, area: Area, max_children: int | None) -> int:
    env = {**os.environ, "MUTATION_TESTS": " ".join(area.tests)}
    children = min(area.children, max_children) if max_children else area.children
    print(f"== {name}: {' '.join(area.globs)} ({children} at a time)", flush=True)
    command = [str(MUTMUT), "run", "--max-children", str(children), *area.globs]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def results() -> dict[str, dict[str, str]]:
    """module → mutant name → status, from the .meta files mutmut writes beside each mutated copy."""
    found: dict[str, dict[str, str]] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants")).removesuffix(".meta")
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        found[module] = {name: status(code) for name, code in codes.items()}
    return found


def report(survivors: bool) -> None:
    by_module = results()
    if not by_module:
        print("no results: run the mutants first")
        return
    columns = ("killed", "timeout", "survived", "no tests", "suspicious", "not checked")
    print(f"| module | score | {' | '.join(columns)} | total |")
    print(f"| --- | --- | {' | '.join('---' for _ in columns)} | --- |")
    overall: Counter[str] = Counter()
    for module, statuses in by_module.items():
        counts = Counter(statuses.values())
        overall.update(counts)
        print(row(module, counts, columns))
    print(row("**all**", overall, columns))
    if survivors:
        for statuses in by_module.values():
            names = sorted(name for name, state in statuses.items() if state in ("survived", "no tests", "suspicious"))
            for name in names:
                print(f"{statuses[name]:>10}  {name}")


def row(module: str, counts: Counter[str], columns: tuple[str, ...]) -> str:
    total = sum(counts.values())
    detected = counts["killed"] + counts["timeout"]
    score = f"{detected}/{total} ({100 * detected / total:.0f} %)" if total else "-"
    return f"| {module} | {score} | {' | '.join(str(counts[c]) for c in columns)} | {total} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # lease-fence is a part of runtime: the default runs each mutant once.
    everything = ",".join(name for name in AREAS if name != "lease-fence")
    parser.add_argument("--areas", default=everything, help=f"comma-separated, of {', '.join(AREAS)}")
    parser.add_argument("--max-children", type=int, help="at most this many mutants at once (default per area)")
    parser.add_argument("--report", action="store_true", help="only print the score of the last run")
    parser.add_argument("--survivors", action="store_true", help="also list the mutants that were not killed")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("SQLITE_TEST_PATH", str(Path(tempfile.gettempdir()) / "aresbot-mutation-test.sqlite3"))
    if not args.report:
        if not os.environ.get("MYSQL_HOST"):
            # A test database left by an interrupted run would hold its rows; --reuse-db would keep them.
            Path(os.environ["SQLITE_TEST_PATH"]).unlink(missing_ok=True)
        for name in args.areas.split(","):
            if name not in AREAS:
                parser.error(f"unknown area {name!r}: use {', '.join(AREAS)}")
            code = run_area(name, AREAS[name], args.max_children)
            if code:
                sys.exit(f"mutmut stopped with exit code {code} in area {name}")
    report(args.survivors)


if __name__ == "__main__":
    main()

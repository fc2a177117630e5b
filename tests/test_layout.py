"""The arrows point one way (ARCHITECTURE.md): strategies, accounts → trading → exchanges; inside trading, the
runtime → the core, never back; the core and the exchange protocol import no Django. Read from the source, so an
import that would turn an arrow round fails here, wherever it hides (also inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    """file → every module it imports (absolute names), at any depth of the file."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path}: {name}"
        for path, names in imported_modules(package).items()
        for name in sorted(names)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("trading", ("strategies", "accounts")),
        ("exchanges", ("trading", "strategies", "accounts")),
        ("trading/core", ("trading.runtime", "trading.models", "trading.journal", "django", "redis", "rq")),
        ("trading/runtime", ("trading.api", "trading.admin", "trading.stats")),
    ],
)
def test_no_import_points_an_arrow_the_wrong_way(package, forbidden):
    assert offenders(package, forbidden) == []

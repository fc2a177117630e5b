"""Typed readers for environment variables.

Every setting AresBot takes comes from the environment, read here and nowhere else. A bad value stops the
process at start-up with a message that names the variable and what it accepts, instead of surfacing later as
a confusing failure inside a worker.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    _check_range(name, value, minimum, maximum)
    return value


def envfloat(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = float(Decimal(raw.strip()))
        except (InvalidOperation, ValueError):
            raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    _check_range(name, value, minimum, maximum)
    return value


def envlist(name: str) -> list[str]:
    """A comma-separated list; blanks are dropped so `A,,B,` reads as [A, B]."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, got {value}")


def load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from `path` into os.environ without overriding variables already set.

    The quick start writes its generated secrets to `.env`; a variable set in the real environment (Docker,
    systemd, CI) always wins over the file, so the file can never silently change a deployment.
    """
    if not path.is_file():
        return
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :]
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}:{lineno}: expected KEY=VALUE, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            # An unquoted value may carry a trailing comment, as in .env.example.
            value = value.split(" #", 1)[0].strip()
        os.environ.setdefault(key.strip(), value)


def set_dotenv_value(path: Path, key: str, value: str, comment: str = "") -> None:
    """Set KEY=VALUE in the .env file at `path`: its line is replaced where there is one, else appended (after
    `comment`). The file is replaced in one step, so a reader never sees it half-written, and keeps its mode."""
    quoted = f'"{value}"' if any(c.isspace() or c in "#'\"" for c in value) else value
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :]
        if stripped.partition("=")[0].strip() == key and "=" in stripped:
            lines[index] = f"{key}={quoted}"
            break
    else:
        lines.extend([f"# {comment}"] if comment else [])
        lines.append(f"{key}={quoted}")
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o600)
    temporary.replace(path)

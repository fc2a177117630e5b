"""The API's JSON parser: DRF's, made safe against bodies built to hurt.

- Nesting is limited to MAX_JSON_DEPTH levels: no field of ours is nested more than two deep, and a body of a few
  kilobytes of brackets would otherwise exhaust Python's recursion limit (a 500) here or in whatever walks it next.
- A number too long for Python's int parsing (over 4,300 digits) does not fail the whole body: it becomes a Decimal,
  which the field it was sent for refuses with its own message naming the field ("no more than N digits").
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

MAX_JSON_DEPTH = 32
# Longer numbers are kept as Decimal: int() refuses more than 4,300 digits, and no field takes over 40.
_LONG_NUMBER = 100


def _number(text: str) -> int | Decimal:
    if len(text) > _LONG_NUMBER:
        return Decimal(text)
    return int(text)


def _real(text: str) -> float | Decimal:
    return Decimal(text) if len(text) > _LONG_NUMBER else float(text)


def depth_of(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar: 0), without recursion of its own."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(
                text,
                parse_constant=json.strict_constant if self.strict else None,
                parse_int=_number,
                parse_float=_real,
            )
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if depth_of(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data

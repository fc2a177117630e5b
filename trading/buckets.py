"""Times grouped into days of TIME_ZONE (or whole hours) inside the database, on SQLite and MySQL/MariaDB alike.

The obvious ways do not hold on both: MySQL's CONVERT_TZ needs the server's time-zone tables, which a fresh
MariaDB does not have (it then answers NULL, silently dropping every row from a GROUP BY date), and Django's
TruncDate runs a Python function per row on SQLite. So the zone's UTC offsets are worked out here, in Python, for the
span of time the rows cover, and the database only adds seconds: `date(t, '+3600 seconds')` on SQLite,
`DATE(DATE_ADD(t, INTERVAL 3600 SECOND))` on MySQL. A zone with summer time has a different offset on either side
of each change; the expression then picks each row's offset with a CASE over the changes within the span
(two a year).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, DateField, Expression, Func
from django.db.models.sql.compiler import SQLCompiler

_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def offset_periods(zone: tzinfo, first: date, last: date) -> tuple[tuple[datetime | None, int], ...]:
    """The zone's UTC offsets (seconds) over the days first … last (UTC), as ((until, offset), …): each offset
    holds for the instants before its `until`, the last one (until None) for all after."""
    periods: list[tuple[datetime | None, int]] = []
    at = datetime(first.year, first.month, first.day, tzinfo=UTC) - _DAY
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + 2 * _DAY
    offset = _offset(zone, at)
    while at < end:
        step = at + _DAY
        if _offset(zone, step) != offset:
            # The change lies within this day: find its second by bisection.
            low, high = at, step
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(zone, middle) == offset else (low, middle)
            periods.append((high, offset))
            offset = _offset(zone, high)
        at = step
    periods.append((None, offset))
    return tuple(periods)


def _offset(zone: tzinfo, at: datetime) -> int:
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


class LocalDate(Func):
    """The date in a zone of a datetime column, given the zone's offset periods (offset_periods)."""

    output_field = DateField()

    def __init__(self, expression: str | Expression, periods: Sequence[tuple[datetime | None, int]]) -> None:
        super().__init__(expression)
        self.periods = tuple(periods)

    def _offsets(
        self, column: str, column_params: list[Any], connection: BaseDatabaseWrapper, *, as_modifier: bool
    ) -> tuple[str, list[Any]]:
        """SQL giving the row's offset (a SQLite modifier '+N seconds', or MySQL's seconds), and its params."""

        def value(offset: int) -> Any:
            return f"{offset:+d} seconds" if as_modifier else offset

        if len(self.periods) == 1:
            return "%s", [value(self.periods[0][1])]
        sql, params = "CASE", []
        for until, offset in self.periods[:-1]:
            sql += f" WHEN {column} < %s THEN %s"
            params += [*column_params, connection.ops.adapt_datetimefield_value(until), value(offset)]
        return f"{sql} ELSE %s END", [*params, value(self.periods[-1][1])]

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        column, params = compiler.compile(self.source_expressions[0])
        offsets, offset_params = self._offsets(column, list(params), connection, as_modifier=True)
        return f"date({column}, {offsets})", (*params, *offset_params)

    def as_mysql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        column, params = compiler.compile(self.source_expressions[0])
        offsets, offset_params = self._offsets(column, list(params), connection, as_modifier=False)
        return f"DATE(DATE_ADD({column}, INTERVAL {offsets} SECOND))", (*params, *offset_params)


class UtcHour(Func):
    """The whole UTC hour a datetime column falls in, as text 'YYYY-MM-DD HH:00:00'."""

    output_field = CharField()

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"strftime('%%Y-%%m-%%d %%H:00:00', {column})", params

    def as_mysql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"DATE_FORMAT({column}, '%%Y-%%m-%%d %%H:00:00')", params


def parse_utc_hour(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)

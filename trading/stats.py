"""Trade statistics and PnL series over the trade record, added up in the database, with days in TIME_ZONE.

Money is reported per currency: summing USDT and BTC into one number would be meaningless. Volume and PnL belong
to a strategy's quote currency, fees to the currency they were paid in. Each figure is one GROUP BY over the
caller's rows (by strategy, and by day or hour for the series), so its cost grows with the rows the database
reads, not with Python work per row: the fills for counts, volume and fees; the closed positions for PnL (it is
booked when a lot closes, net of both fees). Local days come from trading.buckets, which works without the
database's time-zone tables. Over a whole record the counts, volume and fees come from the daily tallies
(trading/tally.py) plus the fills above their watermark: counting 100,000 fills costs the database 60–90 ms however
they are indexed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Aggregate, Count, DecimalField, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from exchanges.base import ZERO, Side, plain_number
from trading.buckets import LocalDate, UtcHour, offset_periods, parse_utc_hour
from trading.models import Fill, FillTally, Position, TallyMark


class Notional(Aggregate):
    """Σ price × amount. Written out rather than Sum(F("price") * F("amount")): Django casts each product to NUMERIC
    on SQLite, which made the product's per-row cost the larger part of the statistics' time there."""

    function = "SUM"
    arg_joiner = " * "
    output_field = DecimalField(max_digits=65, decimal_places=30)

    def __init__(self) -> None:
        super().__init__(F("price"), F("amount"))


def quote_of(symbol: str) -> str:
    return symbol.partition("/")[2]


def _dec(value: Decimal | None) -> Decimal:
    return value if value is not None else ZERO


class Bucket(StrEnum):
    DAY = "day"  # a day in TIME_ZONE
    HOUR = "hour"  # a whole UTC hour


@dataclass(frozen=True)
class Scope:
    """Whose trades, and which: the strategies (id → symbol) the filters leave, a time range, a side."""

    strategies: Mapping[int, str]
    since: datetime | None = None
    until: datetime | None = None
    side: str | None = None

    def by_currency(self) -> dict[str, list[int]]:
        """The strategies' ids per quote currency."""
        found: dict[str, list[int]] = defaultdict(list)
        for pk, symbol in sorted(self.strategies.items()):
            found[quote_of(symbol)].append(pk)
        return dict(found)

    def fills(self) -> QuerySet[Fill]:
        fills = Fill.objects.filter(strategy_id__in=list(self.strategies))
        if self.since is not None:
            fills = fills.filter(executed_at__gte=self.since)
        if self.until is not None:
            fills = fills.filter(executed_at__lt=self.until)
        return fills.filter(side=self.side) if self.side else fills

    def closed(
        self, strategy_ids: Iterable[int] | None = None, *, before: datetime | None = None
    ) -> QuerySet[Position]:
        """The positions closed in range (PnL is booked on the exit) of all the strategies or of `strategy_ids`;
        with `before`, those closed before it."""
        ids = list(self.strategies if strategy_ids is None else strategy_ids)
        closed = Position.objects.filter(strategy_id__in=ids, closed_at__isnull=False)
        if before is not None:
            return closed.filter(closed_at__lt=before)
        if self.since is not None:
            closed = closed.filter(closed_at__gte=self.since)
        if self.until is not None:
            closed = closed.filter(closed_at__lt=self.until)
        return closed


def strategies() -> QuerySet[Any]:
    """Every strategy. The strategies app owns the model; reached through the relation, as trading does not import
    strategies."""
    strategy_model: Any = Fill._meta.get_field("strategy").related_model
    return strategy_model._default_manager.all()


def scope_for(
    user_id: int,
    *,
    strategy: int | None = None,
    symbol: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    side: str | None = None,
) -> Scope:
    """The caller's strategies the filters leave (one small query): the figures then read the trade record by
    strategy id, with no join per row."""
    rows = strategies().filter(owner_id=user_id)
    if strategy is not None:
        rows = rows.filter(pk=strategy)
    if symbol:
        rows = rows.filter(symbol=symbol.strip().upper())
    return Scope(dict(rows.values_list("pk", "symbol")), since, until, side)


def trade_stats(scope: Scope) -> dict[str, Any]:
    """Counts, volume, fees, realized PnL, wins and losses, and PnL per local day, over `scope`, in total and per
    quote currency: the fills grouped by strategy and fee currency (one query), the closed positions by local day
    (one query per quote currency)."""
    count = buys = 0
    volume: dict[str, Decimal] = defaultdict(Decimal)
    fees: dict[str, Decimal] = defaultdict(Decimal)
    # quote currency → [fills, buys, closed positions, wins, losses]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for strategy_id, fee_currency, n, bought, notional, fee in _fill_sums(scope):
        count += n
        buys += bought
        quote = quote_of(scope.strategies[strategy_id])
        volume[quote] += _dec(notional)
        counts[quote][0] += n
        counts[quote][1] += bought
        if fee_currency:
            fees[fee_currency] += _dec(fee)

    pnl: dict[str, Decimal] = defaultdict(Decimal)
    per_day: list[dict[str, Any]] = []
    wins = losses = closed = 0
    for currency, days in _closed_by(scope, Bucket.DAY, wins_and_losses=True).items():
        for day, amount, n, won, lost in days:
            pnl[currency] += _dec(amount)
            wins += won
            losses += lost
            closed += n
            counts[currency][2] += n
            counts[currency][3] += won
            counts[currency][4] += lost
            per_day.append(
                {
                    "date": _as_date(day).isoformat(),
                    "currency": currency,
                    "realized_pnl": _text(amount),
                    "closed_positions": n,
                }
            )
    per_day.sort(key=lambda row: (row["date"], row["currency"]))
    return {
        "count": count,
        "buys": buys,
        "sells": count - buys,
        "volume": _texts(volume),
        "fees": _texts(fees),
        "realized_pnl": _texts(pnl),
        "closed_positions": closed,
        "wins": wins,
        "losses": losses,
        "win_rate": _win_rate(wins, closed),
        "per_currency": [
            {
                "currency": currency,
                "count": n,
                "buys": bought,
                "sells": n - bought,
                "volume": _text(volume.get(currency)),
                "fees": _text(fees.get(currency)),
                "realized_pnl": _text(pnl.get(currency)),
                "closed_positions": closed_here,
                "wins": won,
                "losses": lost,
                "win_rate": _win_rate(won, closed_here),
            }
            for currency, (n, bought, closed_here, won, lost) in sorted(counts.items())
        ],
        "time_zone": settings.TIME_ZONE,
        "pnl_per_day": per_day,
    }


def _fill_sums(scope: Scope) -> list[tuple[int, str, int, int, Decimal | None, Decimal | None]]:
    """(strategy, fee currency, fills, buys, Σ price × amount, Σ fee) over the scope's fills. Over a whole record
    (no time range) the sealed part comes from the daily tallies (trading/tally.py) and only the fills above the
    watermark are read; a time range reads its fills through the (strategy, time) index."""

    def sums(fills: QuerySet[Fill]) -> list[tuple[int, str, int, int, Decimal | None, Decimal | None]]:
        return list(
            fills.values("strategy_id", "fee_currency")
            .annotate(n=Count("id"), buys=Count("id", filter=Q(side=Side.BUY)), volume=Notional(), fee_sum=Sum("fee"))
            .values_list("strategy_id", "fee_currency", "n", "buys", "volume", "fee_sum")
            .order_by()
        )

    if scope.since is not None or scope.until is not None:
        return sums(scope.fills())
    sealed = TallyMark.objects.values_list("sealed_id", flat=True).first() or 0
    if not sealed:
        return sums(scope.fills())
    tallies = FillTally.objects.filter(strategy_id__in=list(scope.strategies))
    if scope.side:
        tallies = tallies.filter(side=scope.side)
    counted = list(
        tallies.values("strategy_id", "fee_currency")
        .annotate(
            n=Sum("fills"),
            buys=Coalesce(Sum("fills", filter=Q(side=Side.BUY)), 0),
            volume=Sum("notional"),
            fee_sum=Sum("fee"),
        )
        .values_list("strategy_id", "fee_currency", "n", "buys", "volume", "fee_sum")
        .order_by()
    )
    return counted + sums(scope.fills().filter(id__gt=sealed))


def _win_rate(wins: int, closed: int) -> str | None:
    return plain_number((Decimal(wins) / closed).quantize(Decimal("0.0001"))) if closed else None


def pnl_series(scope: Scope, bucket: Bucket) -> dict[str, Any]:
    """Realized PnL per day (in TIME_ZONE) or per hour, and its running total, per quote currency: one grouped
    query per quote currency over the closed positions in range, and one for the total before the range when it
    has a start."""
    before: dict[str, Decimal] = defaultdict(Decimal)
    if scope.since is not None:
        earlier = scope.closed(before=scope.since).values("strategy_id").annotate(pnl=Sum("realized_pnl"))
        for strategy_id, amount in earlier.values_list("strategy_id", "pnl").order_by():
            before[quote_of(scope.strategies[strategy_id])] += _dec(amount)
    zone = ZoneInfo(settings.TIME_ZONE)
    grouped = _closed_by(scope, bucket)
    series = []
    for currency in sorted(grouped.keys() | before.keys()):
        running = before[currency]
        points = []
        for key, amount, n in sorted(grouped.get(currency, [])):
            running += _dec(amount)
            if bucket is Bucket.DAY:
                start = datetime.combine(_as_date(key), time(), tzinfo=zone)
            else:
                start = parse_utc_hour(key).astimezone(zone)
            points.append(
                {
                    "time": start.isoformat(),
                    "realized_pnl": _text(amount),
                    "closed_positions": n,
                    "cumulative_pnl": plain_number(running),
                }
            )
        series.append(
            {
                "currency": currency,
                "before": plain_number(before[currency]),
                "total": plain_number(running),
                "points": points,
            }
        )
    return {"time_zone": settings.TIME_ZONE, "bucket": bucket.value, "series": series}


def _closed_by(scope: Scope, bucket: Bucket, *, wins_and_losses: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Per quote currency, the closed positions in range grouped by day (or hour): (key, PnL sum, count[, wins,
    losses]). One query per currency, so that the rows are the days, not the days of each strategy."""
    if bucket is Bucket.DAY:
        span = _span(scope)
        if span is None:
            return {}
        key: Any = LocalDate("closed_at", offset_periods(ZoneInfo(settings.TIME_ZONE), *span))
    else:
        key = UtcHour("closed_at")
    figures: dict[str, Any] = {"pnl": Sum("realized_pnl"), "n": Count("id")}
    if wins_and_losses:
        figures.update(wins=Count("id", filter=Q(realized_pnl__gt=0)), losses=Count("id", filter=Q(realized_pnl__lt=0)))
    grouped = {}
    for currency, ids in scope.by_currency().items():
        rows = scope.closed(ids).annotate(bucket=key).values("bucket").annotate(**figures)
        found = list(rows.values_list("bucket", *figures).order_by())
        if found:
            grouped[currency] = found
    return grouped


def _span(scope: Scope) -> tuple[date, date] | None:
    """The UTC days the closed positions in range span (from the range itself when it has both ends)."""
    if scope.since is not None and scope.until is not None:
        return scope.since.astimezone(UTC).date(), scope.until.astimezone(UTC).date()
    found = scope.closed().aggregate(first=Min("closed_at"), last=Max("closed_at"))
    if found["first"] is None:
        return None
    return found["first"].astimezone(UTC).date(), found["last"].astimezone(UTC).date()


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _text(amount: Decimal | None) -> str:
    return plain_number(_dec(amount))


def _texts(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: plain_number(v) for k, v in sorted(amounts.items())}

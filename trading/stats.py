"""Trade statistics over fills and closed positions, with days counted in TIME_ZONE."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum

from exchanges.base import ZERO, Side, plain_number
from trading.models import Fill, Position


def quote_of(symbol: str) -> str:
    return symbol.partition("/")[2]


def _dec(value: Decimal | None) -> Decimal:
    return value if value is not None else ZERO


def trade_stats(fills: QuerySet[Fill], positions: QuerySet[Position]) -> dict[str, Any]:
    """Money is reported per currency: summing USDT and BTC volume into one number would be meaningless.

    `fills` are the trades in range; `positions` the positions closed in range (PnL is booked on the exit).
    """
    notional = ExpressionWrapper(F("price") * F("amount"), output_field=DecimalField(max_digits=65, decimal_places=30))
    counts = fills.aggregate(
        count=Count("id"),
        buys=Count("id", filter=Q(side=Side.BUY)),
        sells=Count("id", filter=Q(side=Side.SELL)),
    )
    volume: dict[str, Decimal] = defaultdict(Decimal)
    for row in fills.values("strategy__symbol").annotate(v=Sum(notional)).order_by():
        volume[quote_of(row["strategy__symbol"])] += _dec(row["v"])
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for currency, fee in fills.exclude(fee_currency="").values_list("fee_currency").annotate(Sum("fee")).order_by():
        fees[currency] += _dec(fee)

    zone = ZoneInfo(settings.TIME_ZONE)
    pnl: dict[str, Decimal] = defaultdict(Decimal)
    per_day: dict[tuple[date, str], list[Any]] = {}
    wins = losses = 0
    # Days are bucketed here rather than in SQL: MySQL's CONVERT_TZ silently yields NULL when the server's
    # time zone tables were never loaded, which would drop every trade from the chart without an error.
    rows = positions.values_list("closed_at", "realized_pnl", "strategy__symbol").order_by("closed_at")
    for closed_at, realized, symbol in rows.iterator(chunk_size=2000):
        amount = _dec(realized)
        currency = quote_of(symbol)
        pnl[currency] += amount
        if amount > 0:
            wins += 1
        elif amount < 0:
            losses += 1
        assert closed_at is not None  # the queryset holds closed positions only
        bucket = per_day.setdefault((closed_at.astimezone(zone).date(), currency), [ZERO, 0])
        bucket[0] += amount
        bucket[1] += 1
    total_closed = sum(b[1] for b in per_day.values())
    return {
        "count": counts["count"],
        "buys": counts["buys"],
        "sells": counts["sells"],
        "volume": {k: plain_number(v) for k, v in sorted(volume.items())},
        "fees": {k: plain_number(v) for k, v in sorted(fees.items())},
        "realized_pnl": {k: plain_number(v) for k, v in sorted(pnl.items())},
        "closed_positions": total_closed,
        "wins": wins,
        "losses": losses,
        "win_rate": plain_number((Decimal(wins) / total_closed).quantize(Decimal("0.0001"))) if total_closed else None,
        "time_zone": settings.TIME_ZONE,
        "pnl_per_day": [
            {
                "date": day.isoformat(),
                "currency": currency,
                "realized_pnl": plain_number(b[0]),
                "closed_positions": b[1],
            }
            for (day, currency), b in sorted(per_day.items())
        ],
    }

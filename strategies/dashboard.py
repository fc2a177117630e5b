"""The dashboard's one answer: every strategy of a user with what its engine reports and today's realized PnL.

The web app polls it every 2 s, so it is built from three queries and two Redis round trips whatever the number of
strategies, and money stays Decimal: totals are summed here per quote currency, never in the browser's floats.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Sum
from django.utils import timezone

from aresbot.redis import get_redis
from exchanges.base import plain_number
from strategies.models import Strategy
from strategies.status import StrategyRef, iso_utc, runtime_view
from trading.models import Position
from trading.runtime import coordination as co
from trading.stats import quote_of


def start_of_today(now: datetime) -> datetime:
    """Midnight of `now`'s day in TIME_ZONE, the day boundary of the daily PnL and the daily loss limit."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)


def dashboard(user: AbstractBaseUser | AnonymousUser, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    rows = list(
        Strategy.objects.filter(owner_id=user.pk)
        .order_by("name", "id")
        .values_list(
            "id", "name", "symbol", "desired_state", "loop_interval", "account_id", "account__name", "account__exchange"
        )
    )
    ids = [row[0] for row in rows]
    mine = Position.objects.filter(strategy__owner_id=user.pk)
    today_pnl: dict[int, Decimal] = {
        sid: total
        for sid, total in mine.filter(closed_at__gte=start_of_today(now))
        .values_list("strategy_id")
        .annotate(Sum("realized_pnl"))
        .order_by()
    }
    open_positions: dict[int, int] = dict(
        mine.filter(closed_at__isnull=True).values_list("strategy_id").annotate(Count("id")).order_by()
    )
    client = get_redis()
    statuses = co.read_statuses(client, ids)
    backoffs = co.backoff_errors(client, ids)

    totals: dict[str, Decimal] = defaultdict(Decimal)
    strategies = []
    for sid, name, symbol, desired_state, loop_interval, account_id, account_name, exchange in rows:
        quote = quote_of(symbol)
        pnl = today_pnl.get(sid)
        if pnl is not None:
            totals[quote] += pnl
        view = runtime_view(StrategyRef(sid, name, symbol, desired_state), statuses.get(sid, {}), backoffs.get(sid))
        strategies.append(
            {
                **view,
                "quote_currency": quote,
                "account": {"id": account_id, "name": account_name, "exchange": exchange},
                "loop_interval": plain_number(loop_interval),
                "open_positions": open_positions.get(sid, 0),
                "today_pnl": plain_number(pnl) if pnl is not None else None,
            }
        )
    return {
        "server_time": iso_utc(now),
        "time_zone": settings.TIME_ZONE,
        "day_started_at": iso_utc(start_of_today(now)),
        "strategies": strategies,
        "today_pnl": {currency: plain_number(total) for currency, total in sorted(totals.items())},
    }

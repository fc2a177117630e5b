"""The fills added up per strategy, UTC day, side and fee currency ahead of time, for statistics over long records.

Counting 100,000 fills takes the database 60–90 ms however they are indexed (bench/README.md, trades_stats.py);
a year of daily tallies of ten strategies is a few thousand rows. A pass (`seal`, run by the scheduler every
minute) adds the fills that came since the previous pass into the tallies and moves the watermark; the statistics
read the tallies for what is sealed and the fills themselves above the watermark, so their answer is the same
whether a pass has run or not (tests/test_tally.py).

The engine's journal does not write the tallies in its own transaction on purpose: counters that many engines bump
at once are where MariaDB's gap locks turn into deadlocks, and a trade must never fail for a statistic. One pass at
a time (the mark's row lock) is the only writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Max, Sum
from django.db.models.functions import TruncDate

from trading.models import Fill, FillTally, TallyMark
from trading.stats import Notional

MARK_ID = 1
# Seconds between passes (aresbot/cron.py).
TALLY_INTERVAL = 60
# Fill ids one pass seals at most: the first pass after an upgrade meets the whole record (100,000 fills take about
# 10 s), and a pass must end well within its job's timeout; the rest follows a pass at a time.
MAX_IDS_PER_PASS = 200_000


@dataclass(frozen=True)
class Sealed:
    """What one pass did."""

    sealed_id: int
    groups: int


def seal() -> Sealed:
    """Adds the fills with ids up to the newest the previous pass saw into the tallies, and notes the newest now."""
    with transaction.atomic():
        mark, _ = TallyMark.objects.select_for_update().get_or_create(pk=MARK_ID)
        groups = 0
        upto = min(mark.seen_id, mark.sealed_id + MAX_IDS_PER_PASS)
        if upto > mark.sealed_id:
            rows = (
                Fill.objects.filter(id__gt=mark.sealed_id, id__lte=upto)
                .annotate(day=TruncDate("executed_at", tzinfo=UTC))
                .values("strategy_id", "day", "side", "fee_currency")
                .annotate(n=Count("id"), notional=Notional(), fee_sum=Sum("fee"))
                .order_by()
            )
            for row in rows:
                groups += 1
                key = {k: row[k] for k in ("strategy_id", "day", "side", "fee_currency")}
                notional, fee = row["notional"] or Decimal(0), row["fee_sum"] or Decimal(0)
                updated = FillTally.objects.filter(**key).update(
                    fills=F("fills") + row["n"], notional=F("notional") + notional, fee=F("fee") + fee
                )
                if not updated:
                    FillTally.objects.create(**key, fills=row["n"], notional=notional, fee=fee)
            mark.sealed_id = upto
        newest = Fill.objects.aggregate(newest=Max("id"))["newest"] or 0
        mark.seen_id = max(newest, mark.sealed_id)
        mark.save(update_fields=["sealed_id", "seen_id"])
        return Sealed(mark.sealed_id, groups)

"""DbPaperStore: the paper exchange's book in the database, shared by every process trading the same account.

Each operation runs in one transaction that first locks the account's book row (SELECT … FOR UPDATE), so two
strategies on one paper account, or an engine and the worker it failed over to, apply their operations one
after the other on the same balances and orders. Only open orders are loaded per operation; finished ones are
looked up by id when asked for. Nothing inside a session waits on the outside world: the paper exchange reads its
prices (`PriceFeed.observe`) before it opens one, so the row lock (on SQLite, the whole database) is held for the
few milliseconds of matching and writing, never for a network request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from exchanges.base import Balance, OrderStatus, OrderType, Side, Trade
from exchanges.models import PaperBookRecord, PaperOrderRecord
from exchanges.paper.book import PaperBook, PaperOrder

_OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


def _num(value: Decimal) -> str:
    """An exact decimal string without trailing zeros or exponent: "0.001", "1000", "0"."""
    return format(value.normalize(), "f") if value else "0"


def book_key(account_id: int) -> str:
    return f"account:{account_id}"


def stored_feed_spec(key: str, symbol: str) -> dict[str, Any] | None:
    """The feed the book `key` trades `symbol` on, if it has traded it (read only: no book is made)."""
    feeds = PaperBookRecord.objects.filter(key=key).values_list("feeds", flat=True).first() or {}
    found = feeds.get(symbol)
    return dict(found) if isinstance(found, Mapping) else None


def _trade_to_json(trade: Trade) -> dict[str, str]:
    return {
        "id": trade.trade_id,
        "price": format(trade.price, "f"),
        "amount": format(trade.amount, "f"),
        "fee": format(trade.fee, "f"),
        "fee_currency": trade.fee_currency,
        "at": trade.timestamp.isoformat(),
    }


def _trade_from_json(raw: Mapping[str, str]) -> Trade:
    return Trade(
        raw["id"],
        Decimal(raw["price"]),
        Decimal(raw["amount"]),
        Decimal(raw["fee"]),
        raw["fee_currency"],
        datetime.fromisoformat(raw["at"]),
    )


def _order_from_row(row: PaperOrderRecord) -> PaperOrder:
    return PaperOrder(
        client_order_id=row.client_order_id,
        exchange_order_id=row.exchange_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        type=OrderType(row.type),
        price=row.price,
        amount=row.amount,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=OrderStatus(row.status),
        filled=row.filled,
        cost=row.cost,
        fee=row.fee,
        fee_currency=row.fee_currency,
        locked=row.locked,
        trades=[_trade_from_json(t) for t in row.trades],
    )


def _row_values(order: PaperOrder) -> dict[str, Any]:
    return {
        "exchange_order_id": order.exchange_order_id,
        "symbol": order.symbol,
        "side": str(order.side),
        "type": str(order.type),
        "price": order.price,
        "amount": order.amount,
        "filled": order.filled,
        "cost": order.cost,
        "fee": order.fee,
        "fee_currency": order.fee_currency,
        "locked": order.locked,
        "status": str(order.status),
        "trades": [_trade_to_json(t) for t in order.trades],
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


class DbPaperStore:
    def __init__(self, key: str, balances: Mapping[str, Decimal | str] | None = None) -> None:
        """Open the book `key`, creating it with `balances` (free) if it does not exist yet."""
        self.key = key
        initial = {asset: {"free": _num(Decimal(v)), "locked": "0"} for asset, v in (balances or {}).items()}
        # get_or_create retries the read when a concurrent creator wins the unique key.
        PaperBookRecord.objects.get_or_create(key=key, defaults={"balances": initial})

    def session(self) -> AbstractContextManager[PaperBook]:
        return self._session()

    @contextmanager
    def _session(self) -> Iterator[PaperBook]:
        with transaction.atomic():
            row = PaperBookRecord.objects.select_for_update().get(key=self.key)
            loaded = {o.client_order_id: o for o in PaperOrderRecord.objects.filter(book=row, status__in=_OPEN)}
            known_ids = {cid: o.pk for cid, o in loaded.items()}

            def lookup(client_order_id: str | None, exchange_order_id: str | None) -> PaperOrder | None:
                rows = PaperOrderRecord.objects.filter(book=row)
                if client_order_id is not None:
                    rows = rows.filter(client_order_id=client_order_id)
                else:
                    rows = rows.filter(exchange_order_id=exchange_order_id)
                found = rows.first()
                if found is None:
                    return None
                known_ids[found.client_order_id] = found.pk
                return _order_from_row(found)

            book = PaperBook(
                balances={
                    asset: Balance(Decimal(b["free"]), Decimal(b["locked"])) for asset, b in row.balances.items()
                },
                open_orders={cid: _order_from_row(o) for cid, o in loaded.items()},
                matched_until={s: datetime.fromisoformat(t) for s, t in row.matched_until.items()},
                next_seq=row.next_seq,
                lookup=lookup,
            )
            yield book
            self._persist(row, book, known_ids)

    def _persist(self, row: PaperBookRecord, book: PaperBook, known_ids: dict[str, int]) -> None:
        new = []
        for order in book.changed.values():
            values = _row_values(order)
            pk = known_ids.get(order.client_order_id)
            if pk is None:
                new.append(PaperOrderRecord(book=row, client_order_id=order.client_order_id, **values))
            else:
                PaperOrderRecord.objects.filter(pk=pk).update(**values)
        if new:
            PaperOrderRecord.objects.bulk_create(new)
        if book.dirty or book.changed:
            row.balances = {
                asset: {"free": _num(b.free), "locked": _num(b.locked)} for asset, b in sorted(book.balances.items())
            }
            row.matched_until = {s: t.isoformat() for s, t in book.matched_until.items()}
            row.next_seq = book.next_seq
            row.save(update_fields=["balances", "matched_until", "next_seq", "updated_at"])

    def feed_specs(self) -> dict[str, dict[str, Any]]:
        return dict(PaperBookRecord.objects.values_list("feeds", flat=True).get(key=self.key))

    def ensure_feed_spec(self, symbol: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The book's feed for `symbol`: the stored one if any (the first process to trade a symbol decides it,
        so every later process and failover sees the same prices), else `spec`, stored."""
        with transaction.atomic():
            row = PaperBookRecord.objects.select_for_update().get(key=self.key)
            if symbol not in row.feeds:
                row.feeds = {**row.feeds, symbol: dict(spec)}
                row.save(update_fields=["feeds", "updated_at"])
            return dict(row.feeds[symbol])

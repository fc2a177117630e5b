"""DbPaperStore: the paper exchange's book in the database, shared by every process trading the same account.

Each operation that changes the book runs in one transaction that first locks the account's book row (SELECT … FOR
UPDATE), so two strategies on one paper account, or an engine and the worker it failed over to, apply their
operations one after the other on the same balances and orders, and an order is committed before the exchange
answers that it is placed. Nothing inside a session waits on the outside world: the paper exchange reads its
prices (`PriceFeed.observe`) before it opens one, so the row lock (on SQLite, the whole database) is held for the
few milliseconds of matching and writing, never for a network request.

Each process keeps a copy of the book (balances, open orders; finished orders are looked up by id when asked for)
as of the version it last loaded or committed. Every write raises the row's `version`, so:
- a session whose locked row still has the copy's version works on the copy, loading nothing;
- a read (`peek`) whose book is still at that version is answered from the copy after one indexed read of the
  version, with no lock and no transaction: that is the committed book, as a read under the lock would see it.
  The paper exchange takes that path only when matching the price path since the last look fills nothing (a
  quiet tick), so nothing changes and nothing is written, apart from the matching progress now and then
  (`matched`, a checkpoint that changes no balance or order).
A session that fails drops the copy; it comes back only with a commit (on_commit), so a rolled-back change is
never served.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

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


def _times_to_json(times: Mapping[str, datetime]) -> dict[str, str]:
    return {symbol: at.isoformat() for symbol, at in times.items()}


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


def _lookup(
    book_pk: int, finished: dict[str, PaperOrder], client_order_id: str | None, exchange_order_id: str | None
) -> PaperOrder | None:
    """An order of the book that is no longer open, by client id or exchange id: one this process finished lately
    from memory (a finished order never changes again), any other from its row."""
    if client_order_id is not None and client_order_id in finished:
        return finished[client_order_id]
    rows = PaperOrderRecord.objects.filter(book_id=book_pk)
    if client_order_id is not None:
        rows = rows.filter(client_order_id=client_order_id)
    else:
        rows = rows.filter(exchange_order_id=exchange_order_id)
    found = rows.first()
    return _order_from_row(found) if found is not None else None


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


@dataclass(eq=False)
class _Copy:
    """This process's copy of a book, as committed at `version`: what reads are answered from while it is current."""

    pk: int
    version: int
    book: PaperBook
    stored: set[str]  # client ids of its open orders that have a row (an update, not an insert, when they change)
    finished: dict[str, PaperOrder]  # orders this process filled or canceled lately, the engine asks for them next
    checkpointed: dict[str, datetime]  # matched_until as last written, per symbol


class DbPaperStore:
    # A quiet read advances matching in this process's copy only; the progress is written down at most this often
    # (one conditional UPDATE, no transaction), so that a successor process re-walks little of the price path.
    CHECKPOINT = timedelta(seconds=5)
    FINISHED_KEPT = 64

    def __init__(self, key: str, balances: Mapping[str, Decimal | str] | None = None) -> None:
        """Open the book `key`, creating it with `balances` (free) if it does not exist yet."""
        self.key = key
        initial = {asset: {"free": _num(Decimal(v)), "locked": "0"} for asset, v in (balances or {}).items()}
        # get_or_create retries the read when a concurrent creator wins the unique key.
        PaperBookRecord.objects.get_or_create(key=key, defaults={"balances": initial})
        self._copy: _Copy | None = None

    def session(self) -> AbstractContextManager[PaperBook]:
        return self._session()

    def peek(self, *, current: bool = True) -> PaperBook | None:
        """The book for a read, without a lock or a transaction: this process's copy, else None (a session loads
        it). With `current` only while the stored book is still the version it was copied at (one read of one
        indexed column), so the read sees the book as last committed, as a read under the lock would; without, the
        copy as it is (for a read whose answer does not come from the book, see PaperExchange.fetch_price)."""
        copy = self._copy
        if copy is None or not current:
            return copy.book if copy is not None else None
        # Plain SQL: the ORM's compiling of this one-column read cost more than the round trip, every tick.
        with connection.cursor() as cursor:
            cursor.execute(self._sql("SELECT {version} FROM {table} WHERE {id} = %s"), [copy.pk])
            found = cursor.fetchone()
        if found is None or found[0] != copy.version:
            self._copy = None
            return None
        return copy.book

    def matched(self, book: PaperBook) -> None:
        """`book` (from `peek`) was matched up to its matched_until and nothing crossed: write that progress down
        when it has run CHECKPOINT ahead of what is stored. The UPDATE applies only while the book is still at the
        copy's version: a book changed meanwhile keeps the progress its writer stored, and the copy is dropped."""
        copy = self._copy
        if copy is None or copy.book is not book:
            return
        if not any(
            symbol not in copy.checkpointed or at - copy.checkpointed[symbol] >= self.CHECKPOINT
            for symbol, at in book.matched_until.items()
        ):
            return
        with connection.cursor() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {table} SET {matched_until} = %s, {updated_at} = %s WHERE {id} = %s AND {version} = %s"
                ),
                [
                    json.dumps(_times_to_json(book.matched_until)),
                    connection.ops.adapt_datetimefield_value(timezone.now()),
                    copy.pk,
                    copy.version,
                ],
            )
            updated = cursor.rowcount
        if updated:
            copy.checkpointed = dict(book.matched_until)
        else:
            self._copy = None

    @staticmethod
    @cache
    def _sql(template: str) -> str:
        quote = connection.ops.quote_name
        names = {"table": PaperBookRecord._meta.db_table}
        names.update((f.name, f.column) for f in PaperBookRecord._meta.concrete_fields if f.column)
        return template.format(**{k: quote(v) for k, v in names.items()})

    @contextmanager
    def _session(self) -> Iterator[PaperBook]:
        # The copy is handed back only when the session commits: one that fails, or rolls back with an outer
        # transaction, may have changed it half-way, so the next operation loads the book afresh.
        copy, self._copy = self._copy, None
        with transaction.atomic():
            pk, version, stored_matched = (
                PaperBookRecord.objects.select_for_update()
                .filter(key=self.key)
                .values_list("pk", "version", "matched_until")
                .get()
            )
            if copy is None or (copy.pk, copy.version) != (pk, version):
                copy = self._load(pk, version)
            book = copy.book
            # Another process's checkpoint may have moved a symbol's matching further than this copy knows.
            for symbol, raw in stored_matched.items():
                at, known = datetime.fromisoformat(raw), book.matched_until.get(symbol)
                if known is None or at > known:
                    book.matched_until[symbol] = at
            yield book
            if book.dirty or book.changed:
                self._persist(copy, book)
            transaction.on_commit(lambda: self._keep(copy))

    def _keep(self, copy: _Copy) -> None:
        for order in copy.book.changed.values():
            if not order.is_open:
                copy.finished[order.client_order_id] = order
        for client_order_id in list(copy.finished)[: -self.FINISHED_KEPT]:
            del copy.finished[client_order_id]
        copy.book.changed.clear()
        copy.book.dirty = False
        self._copy = copy

    def _load(self, pk: int, version: int) -> _Copy:
        """The book as stored, its row already locked by the caller's transaction."""
        row = PaperBookRecord.objects.only("balances", "matched_until", "next_seq").get(pk=pk)
        orders = [_order_from_row(o) for o in PaperOrderRecord.objects.filter(book_id=pk, status__in=_OPEN)]
        matched = {s: datetime.fromisoformat(t) for s, t in row.matched_until.items()}
        stored = {o.client_order_id for o in orders}
        finished: dict[str, PaperOrder] = {}
        book = PaperBook(
            balances={asset: Balance(Decimal(b["free"]), Decimal(b["locked"])) for asset, b in row.balances.items()},
            open_orders={o.client_order_id: o for o in orders},
            matched_until=matched,
            next_seq=row.next_seq,
            lookup=partial(_lookup, pk, finished),
        )
        return _Copy(pk, version, book, stored, finished, checkpointed=dict(matched))

    def _persist(self, copy: _Copy, book: PaperBook) -> None:
        new = []
        for order in book.changed.values():
            values = _row_values(order)
            if order.client_order_id in copy.stored:
                PaperOrderRecord.objects.filter(book_id=copy.pk, client_order_id=order.client_order_id).update(**values)
            else:
                new.append(PaperOrderRecord(book_id=copy.pk, client_order_id=order.client_order_id, **values))
        if new:
            PaperOrderRecord.objects.bulk_create(new)
            copy.stored.update(o.client_order_id for o in new)
        PaperBookRecord.objects.filter(pk=copy.pk).update(
            balances={
                asset: {"free": _num(b.free), "locked": _num(b.locked)} for asset, b in sorted(book.balances.items())
            },
            matched_until=_times_to_json(book.matched_until),
            next_seq=book.next_seq,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        copy.version += 1
        copy.checkpointed = dict(book.matched_until)
        # A finished order leaves the copy (touch() took it out of open_orders; a lookup reads it) and never changes.
        copy.stored.difference_update(cid for cid, order in book.changed.items() if not order.is_open)

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

"""Whether the code under test holds a database transaction open: nothing slow (a network request, a Redis call,
a rate-limiter wait) may happen then, or the transaction and its locks (on SQLite, the whole database) are held
for as long as it takes."""

from __future__ import annotations

from django.db import connections


def open_transaction() -> str | None:
    """The database whose transaction the calling thread holds open, or None. The transaction pytest-django opens
    around a test is Django's own (marked `_from_testcase`) and does not count."""
    for connection in connections.all(initialized_only=True):
        if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
            return str(connection.alias)
    return None

"""Domain errors: what a service function refuses, in the trader's words and without HTTP.

Each app names its own (strategies/errors.py, accounts/errors.py) as subclasses of the two kinds here; the API
maps a kind to its status (aresbot/api.py), the admin shows the message, the management commands print it.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request; `message` is written for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StateConflict(DomainError):
    """The request is fine but the current state forbids it (already running, still in use). API: 409."""


class InvalidField(DomainError):
    """The value of one field makes the request impossible. API: 400 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ServiceUnavailable(DomainError):
    """A service the request needs does not answer, so nothing was changed; try again later. API: 503."""


REDIS_UNAVAILABLE = (
    "Redis is unreachable, so the strategies' runtime state (status, workers, start and stop) cannot be read or "
    "changed right now. Nothing was changed; try again once Redis is back."
)


class RedisUnavailable(ServiceUnavailable):
    def __init__(self, message: str = REDIS_UNAVAILABLE) -> None:
        super().__init__(message)

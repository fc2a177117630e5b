"""Writes to strategies, shared by the API, the admin and the management commands."""

from __future__ import annotations

from django.db import transaction

from aresbot.api import Conflict
from strategies.choices import DesiredState
from strategies.models import Strategy


def delete_strategy(strategy: Strategy) -> None:
    with transaction.atomic():
        # The row lock makes "check it is stopped, then delete" one step against a concurrent start.
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.desired_state == DesiredState.RUNNING:
            raise Conflict(f"Strategy {locked.name!r} is running: stop it before deleting it.")
        locked.delete()

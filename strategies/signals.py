"""Saving or deleting a strategy by any path (API, admin, commands) drops its owner's cached running list."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from strategies.models import Strategy
from strategies.services import forget_running


@receiver([post_save, post_delete], sender=Strategy)
def drop_running_list(sender: type[Strategy], instance: Strategy, **kwargs: Any) -> None:
    owner_id = instance.owner_id
    transaction.on_commit(lambda: forget_running(owner_id))

"""Writes to accounts, shared by the API, the admin and the management commands."""

from __future__ import annotations

from django.db import transaction

from accounts.crypto import Keyring
from accounts.fields import SealedSecret
from accounts.models import ExchangeAccount
from aresbot.api import Conflict

SECRET_FIELDS = ("api_key", "api_secret", "passphrase")


def delete_account(account: ExchangeAccount) -> None:
    with transaction.atomic():
        locked = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        count = locked.strategies.count()
        if count:
            raise Conflict(
                f"Account {locked.name!r} has {count} strateg{'y' if count == 1 else 'ies'}: delete or move them first."
            )
        locked.delete()


def rotate_account_keys(keyring: Keyring, *, dry_run: bool = False) -> tuple[int, int]:
    """Re-encrypt every stored credential under the current key. Returns (accounts changed, values changed).

    Each account is re-encrypted in its own transaction under a row lock, so a crash halfway leaves every
    account readable with either the old or the new key, and a rerun finishes the job.
    """
    accounts = values = 0
    for pk in ExchangeAccount.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            account = ExchangeAccount.objects.select_for_update().get(pk=pk)
            changed: list[str] = []
            for field in SECRET_FIELDS:
                value = getattr(account, field)
                if isinstance(value, SealedSecret) and value.key_id != keyring.current_id:
                    setattr(account, field, value.reveal(keyring))
                    changed.append(field)
            if changed:
                accounts += 1
                values += len(changed)
                if not dry_run:
                    account.save(update_fields=[*changed, "updated_at"])
    return accounts, values

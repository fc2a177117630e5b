"""Re-encrypt every stored exchange credential, and every two-factor secret, under the current ENCRYPTION_KEY.

A rotation: put the new key in ENCRYPTION_KEY and the old one in ENCRYPTION_OLD_KEYS, run this command, then
drop the old key. It prints counts and key ids, never a credential.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.crypto import CredentialKeyError, Keyring, key_id, stored_key_id
from accounts.fields import SealedSecret
from accounts.models import SECRET_FIELDS, ExchangeAccount
from accounts.services import rotate_account_keys, rotate_authenticator_keys, sealed_authenticator_values


class Command(BaseCommand):
    help = "Re-encrypt every stored exchange credential and two-factor secret under the current ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be re-encrypted, and write nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        keyring = Keyring.from_settings()
        # Checked before any write, so a missing old key stops the run with nothing half-rotated.
        self._refuse_unknown_keys(keyring)
        try:
            accounts, values = rotate_account_keys(keyring, dry_run=dry_run)
            two_factor = rotate_authenticator_keys(keyring, dry_run=dry_run)
        except CredentialKeyError as exc:
            done = "Nothing was written (dry run)" if dry_run else "Accounts before it were re-encrypted, the rest not"
            raise CommandError(
                f"{exc}. {done}: fix ENCRYPTION_KEY / ENCRYPTION_OLD_KEYS (or the damaged value) and run this "
                "again; a rerun finishes the job."
            ) from None
        current = keyring.current_id
        if not values and not two_factor:
            self.stdout.write(f"All stored credentials already use the current key id {current}; nothing to do.")
        elif dry_run:
            self.stdout.write(
                f"Dry run: {values} credential value(s) on {accounts} account(s) would be re-encrypted under "
                f"key id {current}, and {two_factor} two-factor secret(s). Nothing was written."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Re-encrypted {values} credential value(s) on {accounts} account(s), and {two_factor} two-factor "
                    f"secret(s), under key id {current}."
                )
            )
        if keyring.old and not dry_run:
            self.stdout.write("Every credential now uses ENCRYPTION_KEY: ENCRYPTION_OLD_KEYS can be emptied.")

    def _refuse_unknown_keys(self, keyring: Keyring) -> None:
        known = {key_id(k) for k in (keyring.current, *keyring.old)}
        unknown: dict[str, list[str]] = {}

        def check(token: str, place: str) -> None:
            try:
                wanted = stored_key_id(token)
            except CredentialKeyError:
                wanted = "(not in the v1 format)"
            if wanted not in known:
                places = unknown.setdefault(wanted, [])
                if place not in places:
                    places.append(place)

        rows = ExchangeAccount.objects.only("pk", *SECRET_FIELDS).order_by("pk")
        for account in rows.iterator(chunk_size=500):
            for field in SECRET_FIELDS:
                value = getattr(account, field)
                if isinstance(value, SealedSecret):
                    check(value.token, f"account id {account.pk}")
        for authenticator in Authenticator.objects.order_by("pk").iterator(chunk_size=500):
            for token in sealed_authenticator_values(authenticator).values():
                check(token, f"the two-factor secrets of user id {authenticator.user_id}")
        if not unknown:
            return
        found = "; ".join(f"key id {wanted} on {', '.join(places)}" for wanted, places in unknown.items())
        raise CommandError(
            f"Some stored credentials were encrypted with a key that is configured nowhere ({found}). "
            f"ENCRYPTION_KEY has key id {keyring.current_id} and ENCRYPTION_OLD_KEYS holds {len(keyring.old)} "
            "key(s): add the key those credentials were written with to ENCRYPTION_OLD_KEYS and run this again. "
            "Nothing was changed."
        )

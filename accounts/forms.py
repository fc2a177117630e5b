"""The admin's exchange-account form: credentials go in, and nothing of them ever comes back out."""

from __future__ import annotations

import copy
from typing import Any

from django import forms

from accounts.crypto import CredentialKeyError
from accounts.models import PRICE_SOURCE_FIELDS, SECRET_FIELDS, ExchangeAccount
from aresbot.admin import LoadsFirstForm
from exchanges.paper.sources import DATASETS

_LABELS = {"api_key": "API key", "api_secret": "API secret", "passphrase": "API passphrase"}


def _credential_input(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        # The model rejects leading/trailing whitespace with its own message, as the API does; stripping here
        # would silently store something other than what was pasted.
        strip=False,
        # render_value=False: a rejected form must not echo a typed secret back into the page.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the stored value.",
    )


def _clear_box(label: str) -> forms.BooleanField:
    return forms.BooleanField(label=f"Clear the stored {label}", required=False)


class ExchangeAccountAdminForm(LoadsFirstForm):
    api_key = _credential_input(_LABELS["api_key"])
    api_secret = _credential_input(_LABELS["api_secret"])
    passphrase = _credential_input(_LABELS["passphrase"])
    clear_api_key = _clear_box(_LABELS["api_key"])
    clear_api_secret = _clear_box(_LABELS["api_secret"])
    clear_passphrase = _clear_box(_LABELS["passphrase"])

    class Meta:
        model = ExchangeAccount
        fields = [
            "owner",
            "name",
            "exchange",
            "testnet",
            "paper_balances",
            *PRICE_SOURCE_FIELDS,
            "is_active",
            *SECRET_FIELDS,
        ]
        widgets = {
            "replay_dataset": forms.Select(
                choices=[("", "---------"), *((name, f"{name}: {d.description}") for name, d in DATASETS.items())]
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The initial value would be the sealed ciphertext; with "" the widget has nothing to render and
        # changed_data (hence the admin history) names a credential only when a new one was typed.
        for field in SECRET_FIELDS:
            self.initial[field] = ""

    def clean_paper_balances(self) -> Any:
        # An emptied textarea arrives as None, which the NOT NULL column would refuse with a 500.
        value = self.cleaned_data.get("paper_balances")
        return {} if value is None else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field in SECRET_FIELDS:
            typed = cleaned.get(field) or ""
            if cleaned.get(f"clear_{field}"):
                if typed:
                    self.add_error(f"clear_{field}", f"Type a new {_LABELS[field]} or clear it, not both.")
                cleaned[field] = ""
            elif not typed:
                # Blank means "keep": hand the stored (sealed) value back so construct_instance keeps it and the
                # model's rules (paper takes none, binance needs a secret) judge what will really be saved.
                cleaned[field] = getattr(self.instance, field)
        kept = copy.copy(self.instance)
        for field in SECRET_FIELDS:
            setattr(kept, field, cleaned.get(field, ""))
        try:
            # The model refuses such a save too; here it becomes a message on the form instead of an error page.
            kept.check_credentials_readable()
        except CredentialKeyError as exc:
            self.add_error(None, f"Nothing was saved: {exc}. Fix the key, or type every stored credential anew.")
        return cleaned

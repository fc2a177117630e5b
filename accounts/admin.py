"""Admin for exchange accounts and API tokens: secrets go in, only masks come out."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts.crypto import CredentialKeyError, mask
from accounts.fields import SecretValue, reveal
from accounts.forms import ExchangeAccountAdminForm
from accounts.models import PRICE_SOURCE_FIELDS, SECRET_FIELDS, ApiToken, ExchangeAccount
from accounts.services import delete_account
from aresbot.admin import LoadsFirstAdmin, ServiceDeleteAdmin
from exchanges import registry
from exchanges.paper.sources import DEFAULT_LIVE_EXCHANGE, PriceSource, PriceSourceKind
from trading.runtime.markets import exchange_markets


def masked(value: SecretValue) -> str:
    """The admin's only view of a credential; a value the configured keys cannot open must not crash the page."""
    try:
        plain = reveal(value)
    except CredentialKeyError:
        return "cannot decrypt: check ENCRYPTION_KEY"
    return mask(plain) if plain else "-"


_CREDENTIALS_HELP = (
    "Stored encrypted and never shown again; the mask shows the last four characters of a long value. Tick "
    "'clear' to remove a stored value."
)


_PAPER_HELP = (
    "Paper accounts only. Their price source is live (the public prices of the price exchange, Binance when "
    "empty) or replay (a data set shipped with AresBot, replay_speed times faster than real time)."
)


@admin.register(ExchangeAccount)
@method_decorator(sensitive_post_parameters(*SECRET_FIELDS), name="changeform_view")
class ExchangeAccountAdmin(LoadsFirstAdmin, ServiceDeleteAdmin):
    form = ExchangeAccountAdminForm
    list_display = [
        "name",
        "owner",
        "exchange",
        "price_source",
        "testnet",
        "is_active",
        "api_key_mask",
        "strategy_count",
        "updated_at",
    ]
    list_filter = ["exchange", "price_source", "testnet", "is_active"]
    search_fields = ["name", "owner__username", "exchange"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["api_key_stored", "api_secret_stored", "passphrase_stored", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExchangeAccount]:
        return super().get_queryset(request).annotate(strategy_count=Count("strategies"))

    def get_fieldsets(self, request: HttpRequest, obj: ExchangeAccount | None = None) -> Any:
        if obj is None:
            credentials: list[Any] = list(SECRET_FIELDS)
            times: list[str] = []
        else:
            credentials = [(f"{field}_stored", field, f"clear_{field}") for field in SECRET_FIELDS]
            times = ["created_at", "updated_at"]
        return [
            (None, {"fields": ["owner", "name", "exchange", "testnet", "is_active", *times]}),
            ("Paper trading", {"fields": ["paper_balances", *PRICE_SOURCE_FIELDS], "description": _PAPER_HELP}),
            ("Credentials", {"fields": credentials, "description": _CREDENTIALS_HELP}),
        ]

    def preload(self, request: HttpRequest, object_id: str | None) -> None:
        """The markets of a paper account's new live price source, for the check of its strategies' symbols."""
        if object_id is None or not object_id.isdigit():
            return
        if request.POST.get("exchange", "").strip().lower() != registry.PAPER:
            return
        account = ExchangeAccount.objects.filter(pk=object_id).first()
        if account is None or not account.is_paper or not account.strategies.exists():
            return
        if request.POST.get("price_source", "").strip().lower() not in ("", PriceSourceKind.LIVE):
            return  # a replay's markets are its data set's symbols: nothing to load
        exchange = request.POST.get("price_exchange", "").strip().lower() or DEFAULT_LIVE_EXCHANGE
        if account.paper_prices() != PriceSource(PriceSourceKind.LIVE, exchange=exchange):
            exchange_markets(exchange)

    @admin.display(description="API key")
    def api_key_mask(self, obj: ExchangeAccount) -> str:
        return masked(obj.api_key)

    @admin.display(description="Stored API key")
    def api_key_stored(self, obj: ExchangeAccount) -> str:
        return masked(obj.api_key)

    @admin.display(description="Stored API secret")
    def api_secret_stored(self, obj: ExchangeAccount) -> str:
        return masked(obj.api_secret)

    @admin.display(description="Stored passphrase")
    def passphrase_stored(self, obj: ExchangeAccount) -> str:
        return masked(obj.passphrase)

    @admin.display(description="strategies", ordering="strategy_count")
    def strategy_count(self, obj: ExchangeAccount) -> int:
        return obj.strategy_count  # type: ignore[attr-defined]

    def delete_one(self, obj: ExchangeAccount) -> None:
        delete_account(obj)


_TOKEN_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<p>Copy this token now. It is shown only this once: only its hash is stored, so it cannot be shown again.</p>
<p><code id="issued-token" style="font-size: 1.2em; user-select: all">{{ raw_token }}</code></p>
<p>Use it as <code>Authorization: Token &lt;token&gt;</code>.</p>
<p><a href="{{ changelist_url }}">Back to API tokens</a></p>
{% endblock %}"""
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at"]
    list_filter = ["created_at", "last_used_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    # token_hash is never listed: with it anyone reading the page could match a leaked token to its owner.
    fields = ["user", "name", "expires_at", "prefix", "created_at", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        if obj is None:
            return []
        return ["user", "prefix", "created_at", "last_used_at"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        if obj is None:
            return ["user", "name", "expires_at"]
        return self.fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # The manager makes the secret and stores only its hash; the plaintext lives in this response alone.
        token, raw = ApiToken.objects.issue(obj.user, obj.name, obj.expires_at)
        for field in ("id", "prefix", "token_hash", "created_at"):
            setattr(obj, field, getattr(token, field))
        obj._state.adding = False
        obj._state.db = token._state.db
        obj._issued_token = raw  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(obj, "_issued_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered here rather than flashed through a redirect: a message would park the plaintext in the
        # message cookie or the session table until the next page load.
        context = {
            **self.admin_site.each_context(request),
            "title": f"API token {obj.name!r} created",
            "subtitle": None,
            "opts": self.opts,
            "raw_token": raw,
            "changelist_url": reverse("admin:accounts_apitoken_changelist", current_app=self.admin_site.name),
        }
        response = HttpResponse(_TOKEN_PAGE.render(context, request))
        add_never_cache_headers(response)
        return response

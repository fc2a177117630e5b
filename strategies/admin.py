from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ExchangeAccount
from aresbot.admin import LoadsFirstAdmin, LoadsFirstForm, ServiceDeleteAdmin
from aresbot.errors import DomainError
from strategies.choices import StoppedBy
from strategies.models import Strategy
from strategies.services import delete_strategy, start_strategy, stop_strategy
from trading.models import Fill, Order, Position

# The trade admins refuse deletes so nobody edits the audit trail row by row; a strategy's history still goes
# with the strategy, as it does through the API.
_HISTORY_WITH_STRATEGY = {str(model._meta.verbose_name) for model in (Order, Fill, Position)}


@admin.register(Strategy)
class StrategyAdmin(LoadsFirstAdmin, ServiceDeleteAdmin):
    form = LoadsFirstForm
    list_display = [
        "name",
        "owner",
        "account",
        "symbol",
        "grid_levels",
        "buy_offset_pct",
        "sell_offset_pct",
        "order_size_quote",
        "desired_state",
        "updated_at",
    ]
    list_filter = ["desired_state", "account__exchange", "updated_at"]
    search_fields = ["name", "symbol", "owner__username", "account__name"]
    list_select_related = ["owner", "account"]
    autocomplete_fields = ["owner", "account"]
    # desired_state changes only through start/stop, which also coordinate the workers.
    readonly_fields = ["desired_state", "stopped_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["owner", "account", "name", "symbol"]}),
        (
            "Grid",
            {
                "fields": [
                    "grid_levels",
                    "buy_offset_pct",
                    "sell_offset_pct",
                    "order_size_quote",
                    "reprice_threshold_pct",
                    "loop_interval",
                ]
            },
        ),
        (
            "Risk",
            {
                "fields": [
                    "max_positions",
                    "stop_loss_pct",
                    "time_stop_hours",
                    "daily_loss_limit",
                    "max_consecutive_losses",
                    "cooldown_minutes",
                ]
            },
        ),
        ("State", {"fields": ["desired_state", "stopped_by", "created_at", "updated_at"]}),
    ]

    actions = ["delete_selected", "start_selected", "stop_selected"]

    def preload(self, request: HttpRequest, object_id: str | None) -> None:
        """The markets of the account a new or moved strategy names, for Strategy.clean() to check its symbol."""
        account_id = request.POST.get("account", "")
        symbol = request.POST.get("symbol", "").strip().upper()
        if not account_id.isdigit():
            return
        if object_id is not None and object_id.isdigit():
            stored = Strategy.objects.filter(pk=object_id).values_list("symbol", "account_id").first()
            if stored == (symbol, int(account_id)):
                return
        account = ExchangeAccount.objects.filter(pk=account_id).first()
        if account is not None:
            account.markets()

    @admin.action(permissions=["change"], description="Start selected strategies")
    def start_selected(self, request: HttpRequest, queryset: QuerySet[Strategy]) -> None:
        started = 0
        for strategy in queryset.select_related("account"):
            try:
                start_strategy(strategy)
                started += 1
            except DomainError as exc:
                self.message_user(request, f"{strategy.name}: {exc.message}", messages.WARNING)
        if started:
            self.message_user(request, f"Started {started} strateg{'y' if started == 1 else 'ies'}.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Stop selected strategies (keep take-profits)")
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[Strategy]) -> None:
        stopped = 0
        for strategy in queryset:
            try:
                stop_strategy(strategy, by=StoppedBy.ADMIN)
                stopped += 1
            except DomainError as exc:
                self.message_user(request, f"{strategy.name}: {exc.message}", messages.WARNING)
        if stopped:
            self.message_user(
                request, f"Asked {stopped} strateg{'y' if stopped == 1 else 'ies'} to stop.", messages.SUCCESS
            )

    def delete_one(self, obj: Strategy) -> None:
        delete_strategy(obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], list[Any]]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(perms_needed) - _HISTORY_WITH_STRATEGY, protected

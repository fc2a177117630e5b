from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import ServiceDeleteAdmin
from strategies.models import Strategy
from strategies.services import delete_strategy
from trading.models import Fill, Order, Position

# The trade admins refuse deletes so nobody edits the audit trail row by row; a strategy's history still goes
# with the strategy, as it does through the API.
_HISTORY_WITH_STRATEGY = {str(model._meta.verbose_name) for model in (Order, Fill, Position)}


@admin.register(Strategy)
class StrategyAdmin(ServiceDeleteAdmin):
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
    readonly_fields = ["desired_state", "created_at", "updated_at"]
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
        ("State", {"fields": ["desired_state", "created_at", "updated_at"]}),
    ]

    def delete_one(self, obj: Strategy) -> None:
        delete_strategy(obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], list[Any]]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(perms_needed) - _HISTORY_WITH_STRATEGY, protected

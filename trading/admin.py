"""The trade record in the admin: visible to staff, written only by the engine, so read-only here."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from aresbot.admin import ReadOnlyAdminMixin, plain
from trading.backtests.models import Backtest, BacktestDataset
from trading.models import EngineState, Fill, Order, Position, StrategyEvent


class FillInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Fill
    fields = readonly_fields = ("executed_at", "side", "price", "amount", "fee", "fee_currency", "trade_id")
    extra = 0
    show_change_link = True


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "client_order_id",
        "strategy",
        "side",
        "role",
        "type",
        "price_",
        "amount_",
        "filled_",
        "status",
        "created_at",
    ]
    # Dates are list filters (ranges computed in Python), not date_hierarchy: the hierarchy converts time zones
    # in SQL, which MariaDB without its time zone tables answers with NULL, a crash when TIME_ZONE is not UTC.
    list_filter = ["status", "side", "role", "type", "created_at"]
    search_fields = ["=client_order_id", "=exchange_order_id", "strategy__name", "symbol"]
    list_select_related = ["strategy"]
    inlines = [FillInline]

    @admin.display(description="price", ordering="price")
    def price_(self, obj: Order) -> str | None:
        return plain(obj.price)

    @admin.display(description="amount", ordering="amount")
    def amount_(self, obj: Order) -> str | None:
        return plain(obj.amount)

    @admin.display(description="filled", ordering="filled")
    def filled_(self, obj: Order) -> str | None:
        return plain(obj.filled)


@admin.register(Fill)
class FillAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["executed_at", "strategy", "order", "side", "price_", "amount_", "quote_amount", "fee_"]
    list_filter = ["side", "executed_at"]
    search_fields = ["=trade_id", "=order__client_order_id", "strategy__name"]
    list_select_related = ["strategy", "order"]

    @admin.display(description="price", ordering="price")
    def price_(self, obj: Fill) -> str | None:
        return plain(obj.price)

    @admin.display(description="amount", ordering="amount")
    def amount_(self, obj: Fill) -> str | None:
        return plain(obj.amount)

    @admin.display(description="quote amount")
    def quote_amount(self, obj: Fill) -> str | None:
        return plain(obj.quote_amount)

    @admin.display(description="fee", ordering="fee")
    def fee_(self, obj: Fill) -> str:
        return f"{plain(obj.fee)} {obj.fee_currency}".strip()


class OpenClosedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("closed", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(closed_at__isnull=True)
        if self.value() == "closed":
            return queryset.filter(closed_at__isnull=False)
        return queryset


@admin.register(Position)
class PositionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "opened_at",
        "strategy",
        "quantity_",
        "entry_price_",
        "exit_price_",
        "realized_pnl_",
        "exit_reason",
        "closed_at",
    ]
    list_filter = [OpenClosedFilter, "exit_reason", "opened_at", "closed_at"]
    search_fields = ["strategy__name", "=entry_order__client_order_id", "=exit_order__client_order_id"]
    list_select_related = ["strategy"]

    @admin.display(description="quantity", ordering="quantity")
    def quantity_(self, obj: Position) -> str | None:
        return plain(obj.quantity)

    @admin.display(description="entry price", ordering="entry_price")
    def entry_price_(self, obj: Position) -> str | None:
        return plain(obj.entry_price)

    @admin.display(description="exit price", ordering="exit_price")
    def exit_price_(self, obj: Position) -> str | None:
        return plain(obj.exit_price)

    @admin.display(description="realized PnL", ordering="realized_pnl")
    def realized_pnl_(self, obj: Position) -> str | None:
        return plain(obj.realized_pnl)


@admin.register(EngineState)
class EngineStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("strategy", "anchor", "updated_at")
    list_select_related = ("strategy",)
    search_fields = ("strategy__name",)

    @admin.display(description="ladder anchor")
    def anchor(self, obj: EngineState) -> str | None:
        return plain(obj.anchor_price)


class _ResultsAdmin(admin.ModelAdmin):
    """Backtests and their data sets are made by the API and the workers: here they are read, or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BacktestDataset)
class BacktestDatasetAdmin(_ResultsAdmin):
    list_display = [
        "name",
        "owner",
        "source",
        "symbol",
        "status",
        "candles",
        "start",
        "end",
        "size_bytes",
        "created_at",
    ]
    list_filter = ["source", "status", "created_at"]
    search_fields = ["name", "symbol", "owner__username", "=content_hash"]
    list_select_related = ["owner"]
    exclude = ["request"]
    readonly_fields = ["download_request"]

    @admin.display(description="download request")
    def download_request(self, obj: BacktestDataset) -> str:
        return json.dumps(obj.request) if obj.request else ""


@admin.register(Backtest)
class BacktestAdmin(_ResultsAdmin):
    list_display = ["id", "owner", "status", "symbol", "data_set", "total_pnl", "created_at", "finished_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["owner__username", "sample", "dataset__name", "=job_id"]
    list_select_related = ["owner", "dataset"]
    exclude = ["equity_curve"]

    @admin.display(description="symbol")
    def symbol(self, obj: Backtest) -> str:
        return str(obj.parameters.get("symbol", ""))

    @admin.display(description="data set")
    def data_set(self, obj: Backtest) -> str:
        return str(obj.dataset_info.get("name", ""))

    @admin.display(description="total PnL")
    def total_pnl(self, obj: Backtest) -> str:
        return str((obj.summary or {}).get("total_pnl", ""))


# Sweeps keep their admin beside their code.
import trading.sweeps.admin  # noqa: E402, F401


@admin.register(StrategyEvent)
class StrategyEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "at", "strategy", "kind", "severity", "count", "first_at"]
    list_filter = ["kind", "severity", "at"]
    search_fields = ["strategy__name", "=dedupe_key"]
    list_select_related = ["strategy"]
    fields = readonly_fields = ("strategy", "kind", "severity", "at", "first_at", "count", "dedupe_key", "data")

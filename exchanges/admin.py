"""The paper exchange's books, visible to staff for support; written only by the paper exchange itself."""

from __future__ import annotations

from django.contrib import admin

from aresbot.admin import ReadOnlyAdminMixin, plain
from exchanges.models import PaperBookRecord, PaperOrderRecord


@admin.register(PaperBookRecord)
class PaperBookAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "balances", "updated_at")
    search_fields = ("key",)
    readonly_fields = ("key", "balances", "matched_until", "feeds", "next_seq", "version", "created_at", "updated_at")


@admin.register(PaperOrderRecord)
class PaperOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("client_order_id", "book", "symbol", "side", "type", "price_", "amount_", "filled_", "status")
    list_filter = ("status", "side", "type")
    list_select_related = ("book",)
    search_fields = ("client_order_id", "exchange_order_id", "symbol")

    @admin.display(description="price")
    def price_(self, obj: PaperOrderRecord) -> str | None:
        return plain(obj.price)

    @admin.display(description="amount")
    def amount_(self, obj: PaperOrderRecord) -> str | None:
        return plain(obj.amount)

    @admin.display(description="filled")
    def filled_(self, obj: PaperOrderRecord) -> str | None:
        return plain(obj.filled)

"""Sweeps in the admin: read-only (made and cancelled through the API; their rows are the workers' to write)."""

from __future__ import annotations

from django.contrib import admin

from aresbot.admin import ReadOnlyAdminMixin
from trading.sweeps.models import Sweep, SweepResult


@admin.register(Sweep)
class SweepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "owner", "status", "combinations", "chunk_size", "created_at", "finished_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["=id", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = [f.name for f in Sweep._meta.fields]


@admin.register(SweepResult)
class SweepResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["sweep", "index", "chunk", "worker", "created_at"]
    search_fields = ["=sweep__id"]
    readonly_fields = [f.name for f in SweepResult._meta.fields]

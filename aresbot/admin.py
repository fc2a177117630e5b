"""Admin pieces shared by the apps: read-only audit tables, deletes through the service functions, plain decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import quote
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from aresbot.errors import DomainError, ServiceUnavailable
from trading.runtime.markets import remembered


def plain(value: Decimal | None) -> str | None:
    """18 decimal places make `0.001000000000000000`; a column of those is unreadable."""
    if value is None:
        return None
    return format(value.normalize(), "f") if value else "0"


class ReadOnlyAdminMixin:
    """The engine's audit trail: no add, change or delete here (a strategy's delete still takes its history)."""

    # A filtered page would otherwise count the whole table a second time; these tables grow without end.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ServiceDeleteAdmin(admin.ModelAdmin):
    """Deletes go through the app's service function, so the admin refuses exactly what the API refuses, with
    the same message. Subclasses implement `delete_one`, which raises a DomainError to refuse."""

    actions = ["delete_selected"]

    def delete_one(self, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_one(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_one(obj)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        try:
            # Django runs a confirmed delete in a transaction, so the refusal also rolls back its history entry.
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.opts
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[quote(object_id)],
                current_app=self.admin_site.name,
            )
            return HttpResponseRedirect(url)

    # Same name as the site-wide action, which this one therefore replaces (ModelAdmin._get_base_actions).
    @admin.action(permissions=["delete"], description="Delete selected %(verbose_name_plural)s")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        try:
            # One transaction: a single refused row keeps every row (and no history entry claims otherwise).
            with transaction.atomic(using=queryset.db):
                return django_delete_selected(self, request, queryset)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None


class LoadsFirstForm(forms.ModelForm):
    """A model whose rules need something that cannot be had now (an exchange's markets) shows that as a form
    error, where the API answers 503, instead of a server error."""

    def full_clean(self) -> None:
        try:
            super().full_clean()
        except ServiceUnavailable as exc:
            self.add_error(None, exc.message)


class LoadsFirstAdmin(admin.ModelAdmin):
    """Django validates a change form inside the transaction that saves it; what the model's rules need from the
    network (an exchange's market list) is loaded before that transaction opens (`preload`), and the rules read
    the remembered outcome instead of holding the transaction across the request."""

    def preload(self, request: HttpRequest, object_id: str | None) -> None:
        raise NotImplementedError

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with remembered():
            try:
                self.preload(request, object_id)
            except ServiceUnavailable:
                pass  # remembered: the form reports it
            return super().changeform_view(request, object_id, form_url, extra_context)

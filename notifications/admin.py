"""Admin for notification channels: a URL goes in, only its mask comes out."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts.crypto import CredentialKeyError
from notifications.apprise_urls import masked_url
from notifications.models import NotificationChannel


class NotificationChannelAdminForm(forms.ModelForm):
    url = forms.CharField(
        label="Apprise URL",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the stored URL.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["owner", "name", "url", "kinds", "language", "enabled", "summary_hour"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["url"] = ""

    def clean_url(self) -> Any:
        typed = self.cleaned_data.get("url") or ""
        if not typed and self.instance.pk:
            return self.instance.url  # keep the sealed value
        return typed


@admin.register(NotificationChannel)
@method_decorator(sensitive_post_parameters("url"), name="changeform_view")
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelAdminForm
    list_display = ["name", "owner", "url_mask", "language", "enabled", "status", "last_failure_at"]
    list_filter = ["status", "language", "enabled"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["status", "last_failure", "last_failure_at", "last_success_at", "created_at"]

    @admin.display(description="URL")
    def url_mask(self, channel: NotificationChannel) -> str:
        try:
            return masked_url(channel.plain_url())
        except CredentialKeyError:
            return "cannot decrypt: check ENCRYPTION_KEY"

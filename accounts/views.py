from __future__ import annotations

from allauth.account import views as allauth_views
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def password_reset(request: HttpRequest) -> HttpResponse:
    """allauth's password reset where mail can go out (PASSWORD_RESET_BY_EMAIL); elsewhere a page that says to
    ask an administrator, rather than a form whose mail would fail or never arrive."""
    if not settings.PASSWORD_RESET_BY_EMAIL:
        return render(request, "account/password_reset_unavailable.html")
    response: HttpResponse = allauth_views.password_reset(request)
    return response


def api_login(request: HttpRequest) -> HttpResponse:
    """The browsable API's "Log in" link leads to allauth's sign-in page, which asks for the second factor."""
    return redirect_to_login(request.GET.get("next") or "/api/", settings.LOGIN_URL)

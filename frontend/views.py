from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.models import ExchangeAccount
from strategies.models import Strategy


@ensure_csrf_cookie
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Server-rendered overview until the Vue SPA replaces it; the catch-all keeps SPA routes working later."""
    user = request.user
    assert isinstance(user, User)  # login_required has turned anonymous callers away
    context = {
        "accounts": ExchangeAccount.objects.filter(owner=user).order_by("name"),
        "strategies": Strategy.objects.filter(owner=user).select_related("account").order_by("name"),
    }
    return render(request, "frontend/index.html", context)

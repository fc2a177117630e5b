"""The web app's page: every path the SPA routes (/, /strategies/12, /sign-in …) answers its built index.html.

The page carries no data — the SPA asks the API, which checks the session — so it needs no sign-in here, and an
anonymous visitor gets the same bytes as anyone (the SPA then shows its sign-in). It sets the CSRF cookie the API
client sends back, and is never cached, so a new build is picked up at the next visit while its hashed assets stay
cached forever (frontend/serving.py).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import ensure_csrf_cookie

INDEX = "app/index.html"


def built_index() -> Path | None:
    """The built index.html that matches the assets being served, or None when there is no build.

    Without DEBUG WhiteNoise serves the collected files (STATIC_ROOT), so the index must come from there too: a
    fresh build not yet collected would name assets the server does not have. With DEBUG it serves the app
    folders directly (WHITENOISE_USE_FINDERS), where `npm run build` writes.
    """
    if settings.WHITENOISE_USE_FINDERS:
        found = finders.find(INDEX)
        return Path(found) if isinstance(found, str) else None
    collected = Path(settings.STATIC_ROOT) / INDEX
    return collected if collected.is_file() else None


@ensure_csrf_cookie
def spa(request: HttpRequest) -> HttpResponse:
    index = built_index()
    if index is None:
        # Not an error of the visitor's: a checkout or image without the web app's build. Say how to get it.
        response = render(request, "frontend/no_build.html", {"collected": not settings.WHITENOISE_USE_FINDERS})
    else:
        response = HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    add_never_cache_headers(response)
    return response

"""GET /metrics: this web process's Prometheus metrics (all of gunicorn's workers with PROMETHEUS_MULTIPROC_DIR).

Not an API endpoint: no session or API token, but METRICS_TOKEN as a bearer token, or without one a caller on a
loopback or private address (behind TRUSTED_PROXY_COUNT proxies, the client's address they forward, so nginx's own
private address does not open it to the internet).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.login_limits import client_ip
from aresbot import metrics


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = metrics.scrape_refusal(
        request.headers.get("Authorization", ""), client_ip(request), settings.METRICS_TOKEN
    )
    if refused is not None:
        status, message = refused
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)

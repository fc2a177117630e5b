from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

REDIS_UNAVAILABLE_PAGE = (
    "Redis, which this server needs for this page (sign-in limits, the workers' state), is unreachable. Nothing "
    "was changed; try again once Redis is back."
)


class ApiNoStoreMiddleware:
    """API answers carry the caller's own data (balances, strategies, tokens): no browser or proxy may keep a copy
    (`Cache-Control: no-store`), or the next person on a shared machine could read it from the cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            add_never_cache_headers(response)
        return response


class RedisUnavailableMiddleware:
    """A page that needs Redis while it is away (a sign-in counts failures there, an admin action signals the
    workers) answers 503 saying so, not a server error. The API's own views answer through aresbot/api.py."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (redis.ConnectionError, redis.TimeoutError)):
            return None
        logger.error("redis unreachable during %s %s: %s", request.method, request.path, exception)
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"detail": REDIS_UNAVAILABLE_PAGE}, status=503)
        return HttpResponse(REDIS_UNAVAILABLE_PAGE, status=503, content_type="text/plain; charset=utf-8")

"""Liveness endpoints for load balancers and operators; open to anonymous callers and cheap."""

from __future__ import annotations

import time

import redis
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from aresbot.redis import get_redis


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not healthy"; its class name is enough to act on
        return JsonResponse({"status": "error", "database": f"unavailable ({type(exc).__name__})"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@never_cache
@require_GET
def health_redis(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    try:
        get_redis().ping()
    except redis.RedisError as exc:
        return JsonResponse({"status": "error", "redis": f"unavailable ({type(exc).__name__})"}, status=503)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return JsonResponse({"status": "ok", "redis": "ok", "latency_ms": latency_ms})

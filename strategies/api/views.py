from __future__ import annotations

import json

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aresbot.redis import get_redis
from aresbot.viewsets import OwnedQuerysetMixin
from strategies.api.runtime import RuntimeStatusSerializer, WorkerNodeSerializer
from strategies.api.serializers import StrategySerializer
from strategies.models import Strategy
from strategies.services import delete_strategy, running_list, start_strategy, stop_strategy
from strategies.status import runtime_view
from trading.runtime import coordination as co


class StrategyViewSet(OwnedQuerysetMixin, viewsets.ModelViewSet):
    model = Strategy
    serializer_class = StrategySerializer
    filterset_fields = ["account", "symbol", "desired_state"]

    def perform_create(self, serializer: StrategySerializer) -> None:  # type: ignore[override]
        serializer.save(owner=self.request.user)

    def perform_destroy(self, instance: Strategy) -> None:
        delete_strategy(instance)

    @extend_schema(request=None, responses={200: StrategySerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Start the strategy's engine on a worker. 409 when it already runs; 400 when its account cannot trade."""
        strategy = start_strategy(self.get_object())
        return Response(StrategySerializer(strategy, context=self.get_serializer_context()).data)

    @extend_schema(
        request=None,
        responses={200: StrategySerializer},
        parameters=[
            OpenApiParameter("cancel_all", bool, description="Also cancel the take-profit sells (default: keep them).")
        ],
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        """Stop the strategy (idempotent): its open buys are cancelled, its take-profits kept unless cancel_all."""
        cancel_all = request.query_params.get("cancel_all", "").lower() in ("1", "true", "yes")
        strategy = stop_strategy(self.get_object(), cancel_all=cancel_all)
        return Response(StrategySerializer(strategy, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: RuntimeStatusSerializer})
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        """The strategy's strategy:running:{id} hash and the node running it."""
        strategy = self.get_object()
        client = get_redis()
        raw = co.read_status(client, strategy.pk)
        return Response(runtime_view(strategy, raw, co.backoff_error(client, strategy.pk)))

    @extend_schema(responses={200: RuntimeStatusSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def running(self, request: Request) -> Response | HttpResponse:
        """Every strategy of yours that runs or should run, with its node (services.running_list: one query and
        one Redis call, then kept a second)."""
        body = running_list(request.user)
        if request.accepted_renderer.format == "json":
            return HttpResponse(body, content_type="application/json")
        return Response(json.loads(body))  # the browsable API renders it as a page


class WorkerListView(APIView):
    """Active worker nodes (from workers:active and their heartbeats) and which of your strategies each runs."""

    @extend_schema(responses={200: WorkerNodeSerializer(many=True)})
    def get(self, request: Request) -> Response:
        client = get_redis()
        nodes = co.active_workers(client)
        mine = {s.pk: s for s in Strategy.objects.filter(owner_id=request.user.pk).only("id", "name", "symbol")}
        statuses = co.read_statuses(client, list(mine))
        by_ip: dict[str, list[dict[str, object]]] = {ip: [] for ip in nodes}
        for sid, raw in statuses.items():
            ip = raw.get("worker_ip", "")
            entry = {"id": sid, "name": mine[sid].name, "symbol": mine[sid].symbol, "status": raw.get("status")}
            by_ip.setdefault(ip, []).append(entry)
        return Response(
            [{"ip": ip, "hostname": nodes.get(ip, ""), "strategies": by_ip.get(ip, [])} for ip in sorted(by_ip)]
        )

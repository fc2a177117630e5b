from __future__ import annotations

import json

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aresbot.api import query_bool
from aresbot.redis import get_redis
from aresbot.viewsets import OwnedQuerysetMixin
from strategies.api.detail import StrategyRecordActions
from strategies.api.filters import StrategyFilter
from strategies.api.preview import StrategyPreviewAction
from strategies.api.risk import StrategyRiskAction
from strategies.api.runtime import DashboardSerializer, RuntimeStatusSerializer, WorkerNodeSerializer
from strategies.api.serializers import StrategySerializer
from strategies.dashboard import dashboard
from strategies.models import Strategy
from strategies.services import delete_strategy, running_list, start_strategy, stop_strategy
from strategies.status import runtime_view, worker_view
from trading.api.events import StrategyEventsAction
from trading.runtime import coordination as co


class StrategyViewSet(
    OwnedQuerysetMixin,
    StrategyRecordActions,
    StrategyEventsAction,
    StrategyRiskAction,
    StrategyPreviewAction,
    viewsets.ModelViewSet,
):
    """Your grid strategies: the market they trade, their grid and their risk limits.

    Create and edit them here; start and stop them with the start and stop actions. A running strategy cannot be
    deleted, nor moved to another symbol or account; its grid and risk parameters can change while it runs.
    """

    model = Strategy
    serializer_class = StrategySerializer
    filterset_class = StrategyFilter
    # Errors only these operations answer (aresbot/schema.py adds the ones every operation shares).
    schema_errors = {
        # 503: the markets of the account's exchange, against which a new symbol is checked, cannot be loaded.
        "create": (503,),
        "update": (503,),
        "partial_update": (503,),
        "destroy": (409,),
        "start": (400, 409, 503),  # 400: its account cannot trade
        "stop": (503,),
        "status": (503,),
        "running": (503,),
        "dashboard": (503,),
        "candles": (503,),  # the exchange (or the data set) cannot be read
        "preview": (503,),  # the markets or the price of the account's exchange cannot be read
    }

    def perform_create(self, serializer: StrategySerializer) -> None:  # type: ignore[override]
        serializer.save(owner=self.request.user)

    def perform_destroy(self, instance: Strategy) -> None:
        delete_strategy(instance)

    @extend_schema(request=None, responses={200: StrategySerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Start the strategy on a worker.

        It begins trading within seconds. Refused with 409 when it already runs, and with 400 naming the reason
        when its account cannot trade (inactive, or without API credentials).
        """
        strategy = start_strategy(self.get_object())
        return Response(StrategySerializer(strategy, context=self.get_serializer_context()).data)

    @extend_schema(
        request=None,
        responses={200: StrategySerializer},
        parameters=[
            OpenApiParameter(
                "cancel_all",
                bool,
                description="true: also cancel the take-profit sells; false (the default): keep them.",
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        """Stop the strategy; stopping a stopped strategy changes nothing.

        Its open buy orders are cancelled; its take-profit sells stay on the exchange unless `cancel_all=true`.
        """
        cancel_all = query_bool(request, "cancel_all")
        strategy = stop_strategy(self.get_object(), cancel_all=cancel_all)
        return Response(StrategySerializer(strategy, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: RuntimeStatusSerializer})
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        """What the strategy is doing now: whether it runs, on which worker node, its price, open orders and
        positions, and its last error."""
        strategy = self.get_object()
        client = get_redis()
        raw = co.read_status(client, strategy.pk)
        return Response(runtime_view(strategy, raw, co.backoff_error(client, strategy.pk)))

    @extend_schema(responses={200: RuntimeStatusSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def running(self, request: Request) -> Response | HttpResponse:
        """Your strategies that run or are starting, each with its status and the worker node running it.

        A stopped strategy drops off the list once its engine has let go of it. The answer may be up to a second
        old.
        """
        body = running_list(request.user)
        if request.accepted_renderer.format == "json":
            return HttpResponse(body, content_type="application/json")
        return Response(json.loads(body))  # the browsable API renders it as a page

    @extend_schema(responses={200: DashboardSerializer})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def dashboard(self, request: Request) -> Response:
        """Every strategy of yours in one answer, for a dashboard polling every few seconds: its state, node,
        price, open orders and positions, last error, and the PnL of the positions it closed today; plus today's
        total per quote currency. Three queries and two Redis calls, however many strategies you have."""
        return Response(dashboard(request.user))


class WorkerListView(APIView):
    """The worker nodes that are up now, and which of your strategies each one runs."""

    schema_errors = {"get": (503,)}

    @extend_schema(responses={200: WorkerNodeSerializer(many=True)})
    def get(self, request: Request) -> Response:
        client = get_redis()
        nodes = co.active_workers(client)
        mine = {s.pk: s for s in Strategy.objects.filter(owner_id=request.user.pk).only("id", "name", "symbol")}
        statuses = co.read_statuses(client, list(mine))
        return Response(worker_view(nodes, mine, statuses, co.last_heartbeats(client, nodes)))

"""/api/sweeps: a grid of parameter values backtested over one data set, ranked (contract: /work/backtest-api.md).

POST takes what POST /api/backtests takes (the base parameters, data set and options, read by its serializer) and
a `grid` of values for grid_levels, buy_offset_pct, sell_offset_pct and optionally stop_loss_pct.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.viewsets import OwnedQuerysetMixin
from strategies.api.serializers import StrategySerializer
from trading.backtests.models import ACTIVE_BACKTEST_STATUSES
from trading.backtests.params import engine_config
from trading.sweep import MAX_VALUES, SweepGrid, SweepGridError, SweepOrder, expand
from trading.sweeps import services
from trading.sweeps.models import Sweep


def _values(name: str) -> serializers.ListField:
    # The strategy API's own field for the parameter: the same bounds and messages (strategies.models.BOUNDS).
    child = copy.deepcopy(StrategySerializer().fields[name])
    child.required = True
    return serializers.ListField(
        child=child,
        min_length=1,
        max_length=MAX_VALUES,
        help_text=f"1 to {MAX_VALUES} values of {name}, each within the strategy bounds.",
    )


class SweepGridSerializer(serializers.Serializer):
    grid_levels = _values("grid_levels")
    buy_offset_pct = _values("buy_offset_pct")
    sell_offset_pct = _values("sell_offset_pct")
    stop_loss_pct = _values("stop_loss_pct")
    stop_loss_pct.required = False

    def to_grid(self) -> SweepGrid:
        data = self.validated_data
        stops = data.get("stop_loss_pct")
        return SweepGrid(
            grid_levels=tuple(data["grid_levels"]),
            buy_offset_pct=tuple(data["buy_offset_pct"]),
            sell_offset_pct=tuple(data["sell_offset_pct"]),
            stop_loss_pct=None if stops is None else tuple(stops),
        )


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    eta_seconds = serializers.IntegerField(allow_null=True)


class SweepResultSerializer(serializers.Serializer):
    grid_levels = serializers.IntegerField()
    buy_offset_pct = serializers.CharField()
    sell_offset_pct = serializers.CharField()
    stop_loss_pct = serializers.CharField(allow_null=True)
    total_pnl = serializers.CharField()
    realized_pnl = serializers.CharField()
    unrealized_pnl = serializers.CharField()
    max_drawdown = serializers.CharField()
    max_drawdown_pct = serializers.CharField()
    pnl_per_drawdown = serializers.CharField(allow_null=True)
    fills = serializers.IntegerField()
    grid_cycles = serializers.IntegerField()
    fees_quote = serializers.CharField()
    rank = serializers.IntegerField()


class SweepSerializer(serializers.ModelSerializer):
    """A sweep as the list shows it: what was asked and how far it is."""

    progress = serializers.SerializerMethodField()
    dataset = serializers.JSONField(source="dataset_info", read_only=True)

    class Meta:
        model = Sweep
        fields = [
            "id",
            "status",
            "progress",
            "grid",
            "parameters",
            "options",
            "dataset",
            "created_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, sweep: Sweep) -> dict[str, int | None]:
        done = getattr(sweep, "done", None)
        return services.progress(sweep, done if done is not None else services.done_count(sweep))


class SweepDetailSerializer(SweepSerializer):
    """A sweep with its results so far, ranked (?order=)."""

    results = serializers.SerializerMethodField()

    class Meta(SweepSerializer.Meta):
        fields = [*SweepSerializer.Meta.fields, "results"]
        read_only_fields = fields

    @extend_schema_field(SweepResultSerializer(many=True))
    def get_results(self, sweep: Sweep) -> list[dict[str, Any]]:
        return self.context["results"]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, sweep: Sweep) -> dict[str, int | None]:
        return services.progress(sweep, len(self.context["results"]))


ORDER_PARAMETER = OpenApiParameter(
    "order",
    str,
    enum=[o.value for o in SweepOrder],
    description="total_pnl (highest first, the default), max_drawdown (smallest first) or pnl_per_drawdown "
    "(highest first; none last). Ties: higher PnL, smaller drawdown, then grid order.",
)


class SweepViewSet(
    OwnedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Parameter sweeps: one strategy's backtest over every combination of a grid of values, on all the backtest
    workers of all nodes, ranked by PnL, drawdown or PnL per drawdown."""

    model = Sweep
    serializer_class = SweepSerializer

    def get_queryset(self) -> QuerySet[Sweep]:
        found = super().get_queryset()
        if self.action == "list":
            found = found.annotate(done=Count("results"))
        return found

    @extend_schema(request=SweepCreateSerializer, responses={202: SweepSerializer})  # noqa: F821
    def create(self, request: Request) -> Response:
        """Queue a sweep: 202 with the sweep (status queued). The combinations are checked first: each value
        within the strategy bounds, at most SWEEP_MAX_COMBINATIONS of them, none the engine refuses."""
        serializer = SweepCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        sweep = serializer.save(owner=request.user)
        sweep.done = 0
        return Response(SweepSerializer(sweep, context=self.get_serializer_context()).data, status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[ORDER_PARAMETER], responses={200: SweepDetailSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        """The sweep with the combinations done so far, ranked by ?order=."""
        order = request.query_params.get("order", SweepOrder.TOTAL_PNL.value)
        if order not in {o.value for o in SweepOrder}:
            raise serializers.ValidationError(
                {"order": [f"Must be one of {', '.join(o.value for o in SweepOrder)}."]}
            )
        sweep = self.get_object()
        context = {**self.get_serializer_context(), "results": services.results(sweep, order)}
        return Response(SweepDetailSerializer(sweep, context=context).data)

    @extend_schema(responses={202: SweepSerializer, 204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """A queued or running sweep is cancelled (202): its queued chunks leave the queue and the running ones
        stop at their next progress check; an ended one is deleted (204)."""
        sweep = self.get_object()
        if sweep.status in ACTIVE_BACKTEST_STATUSES and services.cancel_sweep(sweep):
            sweep.refresh_from_db()
            return Response(SweepSerializer(sweep, context=self.get_serializer_context()).data, status.HTTP_202_ACCEPTED)
        sweep.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


def check_grid(grid: SweepGrid, parameters: dict[str, Any]) -> int:
    """The number of combinations; a ValidationError on `grid` naming the problem (trading.sweep.expand)."""
    try:
        return len(expand(grid, engine_config(parameters), settings.SWEEP_MAX_COMBINATIONS))
    except SweepGridError as exc:
        raise serializers.ValidationError({"grid": exc.errors}) from None

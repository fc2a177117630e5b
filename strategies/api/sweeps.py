"""/api/sweeps: a grid of parameter values backtested over one data set, ranked (contract: /work/backtest-api.md).

POST takes what POST /api/backtests takes (its serializer reads the base parameters, data set and options) and a
`grid` of values for grid_levels, buy_offset_pct, sell_offset_pct and optionally stop_loss_pct. The chunks run on
the backtest workers of every node (trading.sweeps).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.viewsets import OwnedQuerysetMixin
from strategies.api.backtests import BacktestListSerializer, BacktestRequestSerializer
from strategies.api.serializers import _range
from strategies.models import Strategy
from trading.backtests.params import engine_config
from trading.sweep import MAX_VALUES, SweepGrid, SweepGridError, SweepOrder, expand
from trading.sweeps import services
from trading.sweeps.models import Sweep


def _values(name: str, *, required: bool = True) -> serializers.ListField:
    """A list of values of one strategy parameter, each with the strategy API's range and message (BOUNDS)."""
    field = Strategy._meta.get_field(name)
    child: serializers.Field[Any, Any, Any, Any]
    if isinstance(field, models.DecimalField):
        child = serializers.DecimalField(
            max_digits=field.max_digits, decimal_places=field.decimal_places, allow_null=field.null, **_range(name)
        )
    else:
        child = serializers.IntegerField(**_range(name))
    return serializers.ListField(
        child=child,
        min_length=1,
        max_length=MAX_VALUES,
        required=required,
        help_text=f"1 to {MAX_VALUES} values of {name}, each within the strategy bounds"
        + (" (null: no stop-loss)." if field.null else "."),
    )


class SweepGridSerializer(serializers.Serializer):
    """The values to try; every combination of them is one backtest."""

    grid_levels = _values("grid_levels")
    buy_offset_pct = _values("buy_offset_pct")
    sell_offset_pct = _values("sell_offset_pct")
    stop_loss_pct = _values("stop_loss_pct", required=False)


class SweepProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Combinations done.")
    total = serializers.IntegerField(help_text="Combinations in the sweep.")
    eta_seconds = serializers.IntegerField(allow_null=True, help_text="Seconds left at the rate so far, while it runs.")


class SweepRequestSerializer(BacktestRequestSerializer):
    """A sweep to run: a backtest's request (base parameters, data set, options) and the grid of values to try."""

    grid = SweepGridSerializer()

    class Meta(BacktestRequestSerializer.Meta):
        fields = [*BacktestRequestSerializer.Meta.fields, "grid"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        grid = attrs.pop("grid")
        base = super().validate(attrs)
        swept = SweepGrid(
            grid_levels=tuple(grid["grid_levels"]),
            buy_offset_pct=tuple(grid["buy_offset_pct"]),
            sell_offset_pct=tuple(grid["sell_offset_pct"]),
            stop_loss_pct=None if grid.get("stop_loss_pct") is None else tuple(grid["stop_loss_pct"]),
        )
        try:
            combinations = expand(swept, engine_config(base["parameters"]), settings.SWEEP_MAX_COMBINATIONS)
        except SweepGridError as exc:
            raise ValidationError(
                {("grid" if field == "grid" else f"grid.{field}"): [message] for field, message in exc.errors.items()}
            ) from None
        return {**base, "grid": swept, "combinations": len(combinations)}


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


class SweepSerializer(BacktestListSerializer):
    """A sweep as the list shows it: what it sweeps over what, and how far it is (the dataset, error and time
    fields as a backtest's)."""

    summary = None  # type: ignore[assignment]  # a sweep's figures are its results, per combination
    progress = serializers.SerializerMethodField()
    grid = serializers.JSONField(read_only=True, help_text="The values swept, per parameter.")
    parameters = serializers.JSONField(read_only=True, help_text="The base parameters each combination changes.")

    class Meta:
        model = Sweep
        fields = [
            "id",
            "status",
            "progress",
            "strategy",
            "grid",
            "parameters",
            "dataset",
            "options",
            "created_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    def done(self, sweep: Sweep) -> int:
        done = getattr(sweep, "done", None)  # the list counts them in its query
        return done if done is not None else services.done_count(sweep)

    @extend_schema_field(SweepProgressSerializer)
    def get_progress(self, sweep: Sweep) -> dict[str, int | None]:  # type: ignore[override]
        return services.progress(sweep, self.done(sweep))


class SweepDetailSerializer(SweepSerializer):
    """A sweep with the combinations done so far, ranked (the view reads them once: context["results"])."""

    results = serializers.SerializerMethodField()

    class Meta(SweepSerializer.Meta):
        fields = [*SweepSerializer.Meta.fields, "results"]
        read_only_fields = fields

    def done(self, sweep: Sweep) -> int:
        return len(self.context["results"])

    @extend_schema_field(SweepResultSerializer(many=True))
    def get_results(self, sweep: Sweep) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.context["results"])


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
    """Parameter sweeps: a backtest over every combination of a grid of values, split into chunks that the backtest
    workers of every node share, ranked by PnL, drawdown or PnL per drawdown. Newest first."""

    model = Sweep
    serializer_class = SweepSerializer
    filter_backends: list[Any] = []
    schema_errors = {"create": (503,)}

    def get_queryset(self) -> QuerySet[Sweep]:
        queryset = super().get_queryset()
        if self.action == "list":
            # A GROUP BY drops the model's ordering: newest first, stated again.
            return queryset.annotate(done=Count("results")).order_by("-created_at", "-id")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "create":
            return SweepRequestSerializer
        if self.action == "retrieve":
            return SweepDetailSerializer
        return SweepSerializer

    @extend_schema(request=SweepRequestSerializer, responses={202: SweepSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a sweep. The base parameters, data set and options are a backtest's (POST /api/backtests); each
        combination of the grid's values replaces grid_levels, buy_offset_pct, sell_offset_pct (and stop_loss_pct).
        400 naming the field and its range for a value out of bounds, more than SWEEP_MAX_COMBINATIONS
        combinations, or combinations the engine refuses (named). Poll GET /api/sweeps/{id}."""
        serializer = SweepRequestSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        chosen = data["dataset"]
        sweep = services.create_sweep(
            owner=cast("User", request.user),  # IsAuthenticated: never anonymous here
            strategy_id=data["strategy"].pk if data["strategy"] is not None else None,
            parameters=data["parameters"],
            grid=data["grid"],
            combinations=data["combinations"],
            options=data["options"],
            dataset=chosen["dataset"],
            sample=chosen["sample"],
            dataset_info=chosen["info"],
        )
        sweep.done = 0  # type: ignore[attr-defined]
        return Response(SweepSerializer(sweep).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[ORDER_PARAMETER], responses={200: SweepDetailSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The sweep and its combinations done so far (all of them once done), ranked by ?order=."""
        order = request.query_params.get("order") or SweepOrder.TOTAL_PNL.value
        if order not in {o.value for o in SweepOrder}:
            raise ValidationError({"order": [f"Must be one of {', '.join(o.value for o in SweepOrder)}."]})
        sweep = self.get_object()
        return Response(SweepDetailSerializer(sweep, context={"results": services.results(sweep, order)}).data)

    @extend_schema(
        responses={
            202: OpenApiResponse(SweepSerializer, description="Was queued or running: now cancelled."),
            204: OpenApiResponse(description="Had ended: deleted with its results."),
        }
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel a queued or running sweep (202: its queued chunks leave the queue, running ones stop at their next
        progress check, within a second), or delete an ended one with its results (204)."""
        sweep = self.get_object()
        if services.cancel_sweep(sweep):
            sweep.refresh_from_db()
            return Response(SweepSerializer(sweep).data, status=status.HTTP_202_ACCEPTED)
        sweep.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

"""/api/backtests: run the grid engine over historical candles on a backtest worker, watch it, read what it did.

Here, in the strategies app, because a backtest's parameters are a strategy's (taken from one of yours and checked by
the strategy rules, strategies.backtesting) and the trading app never imports this one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import redis
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.api import django_errors_to_drf, query_int
from aresbot.errors import ServiceUnavailable, StateConflict
from aresbot.viewsets import OwnedQuerysetMixin
from exchanges.base import plain_number
from exchanges.paper.sources import DATASETS
from strategies.api.serializers import _range
from strategies.backtesting import resolve_parameters
from strategies.models import Strategy
from trading.backtests import datasets as ds
from trading.backtests import results, runs
from trading.backtests.candles import DEFAULT_BARS, MAX_BARS, merged_bars
from trading.backtests.models import Backtest, BacktestDataset, BacktestStatus, DatasetStatus
from trading.backtests.params import PARAMETERS
from trading.runtime.queues import enqueue_backtest


@extend_schema_field(OpenApiTypes.INT)
class OwnStrategyField(serializers.PrimaryKeyRelatedField):
    """One of the caller's strategies; someone else's id reads as 'does not exist'."""

    def get_queryset(self) -> QuerySet[Strategy]:
        return Strategy.objects.filter(owner=self.context["request"].user)


def _bounded(low: Decimal, high: Decimal, unit: str = "", **kwargs: Any) -> serializers.DecimalField:
    message = f"Must be between {low:f} and {high:f}{' ' + unit if unit else ''}.".replace("%", "%%")
    return serializers.DecimalField(
        max_digits=30,
        decimal_places=8,
        min_value=low,
        max_value=high,
        error_messages={"min_value": message, "max_value": message},
        **kwargs,
    )


class BacktestParametersSerializer(serializers.ModelSerializer):
    """A strategy's symbol and grid/risk parameters for a backtest or a sweep: taken from one of your strategies
    (`strategy`), with any given here replacing its own, or all given here. Same names, ranges and rules as the
    strategy API."""

    strategy = OwnStrategyField(
        required=False, allow_null=True, help_text="Take the symbol and parameters from this strategy of yours."
    )

    class Meta:
        model = Strategy
        fields = ["strategy", *PARAMETERS]
        extra_kwargs = {
            "symbol": {"required": False},
            **{name: {**_range(name), "required": False} for name in PARAMETERS if name != "symbol"},
        }

    def resolved_parameters(
        self, attrs: dict[str, Any], *, default_symbol: str = "", shipped_market: bool = True
    ) -> dict[str, Any]:
        """The parameters to run with (strategies.backtesting.resolve_parameters); a 400 naming each bad field."""
        overrides = {name: value for name, value in attrs.items() if name in PARAMETERS}
        try:
            return resolve_parameters(
                self.context["request"].user,
                attrs.get("strategy"),
                overrides,
                default_symbol=default_symbol,
                shipped_market=shipped_market,
            )
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None


class BacktestRequestSerializer(BacktestParametersSerializer):
    """A backtest to run: the parameters (see BacktestParameters), the data set and the paper account's terms."""

    dataset = serializers.CharField(
        help_text='A data set id of yours, or "sample:<name>" (GET /api/backtests/datasets).'
    )
    initial_quote = _bounded(Decimal("0.00000001"), Decimal(10**12), "in quote currency", default=Decimal(10_000))
    initial_base = _bounded(Decimal(0), Decimal(10**12), "in base currency", default=Decimal(0))
    slippage_pct = _bounded(Decimal(0), Decimal(10), "%", default=Decimal("0.05"), help_text="Market orders' slippage.")
    fee_in_base = serializers.BooleanField(default=False, help_text="Buys pay their fee in the base coin (Binance).")
    maker_fee_pct = _bounded(
        Decimal(0), Decimal(10), "%", required=False, allow_null=True, help_text="Default: the market's."
    )
    taker_fee_pct = _bounded(
        Decimal(0), Decimal(10), "%", required=False, allow_null=True, help_text="Default: the market's."
    )

    class Meta(BacktestParametersSerializer.Meta):
        fields = [
            *BacktestParametersSerializer.Meta.fields,
            "dataset",
            "initial_quote",
            "initial_base",
            "slippage_pct",
            "fee_in_base",
            "maker_fee_pct",
            "taker_fee_pct",
        ]

    def validate_dataset(self, value: str) -> dict[str, Any]:
        return dataset_choice(self.context["request"].user, value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        chosen = attrs["dataset"]
        # A data set downloaded with its exchange's rules trades by them: any symbol that exchange lists.
        own_rules = chosen["dataset"] is not None and bool(chosen["dataset"].market_rules)
        parameters = self.resolved_parameters(
            attrs, default_symbol=chosen["info"]["symbol"] or "", shipped_market=not own_rules
        )
        if chosen["info"]["symbol"] and chosen["info"]["symbol"] != parameters["symbol"]:
            raise ValidationError(
                {
                    "dataset": [
                        f"It holds {chosen['info']['symbol']} candles; the backtest trades {parameters['symbol']}."
                    ]
                }
            )
        options = {
            "initial_quote": plain_number(attrs["initial_quote"]),
            "initial_base": plain_number(attrs["initial_base"]),
            "slippage_pct": plain_number(attrs["slippage_pct"]),
            "fee_in_base": attrs["fee_in_base"],
            "maker_fee_pct": None if attrs.get("maker_fee_pct") is None else plain_number(attrs["maker_fee_pct"]),
            "taker_fee_pct": None if attrs.get("taker_fee_pct") is None else plain_number(attrs["taker_fee_pct"]),
        }
        return {"strategy": attrs.get("strategy"), "parameters": parameters, "dataset": chosen, "options": options}


def dataset_choice(owner: Any, value: str) -> dict[str, Any]:
    """A backtest's data set from what the request named: {"dataset": row or None, "sample": name or "", "info":
    what the backtest keeps of it}; a 400 on `dataset` for anything not ready to run on."""
    value = str(value).strip()
    if ds.is_sample_ref(value):
        name = value[len(ds.SAMPLE_PREFIX) :]
        if name not in DATASETS:
            known = ", ".join(f"{ds.SAMPLE_PREFIX}{n}" for n in DATASETS)
            raise ValidationError(f"No sample data set named {name!r}: one of {known}, or the id of one of yours.")
        facts = ds.sample_facts(name)
        info: dict[str, Any] = {
            "id": value,
            "name": name,
            "symbol": DATASETS[name].symbol,
            **_facts(facts.start, facts.end),
        }
        info["candles"] = facts.candles
        return {"dataset": None, "sample": name, "info": info}
    # ASCII digits only ("¹" is a digit to str.isdigit, not to int), and within the id column's range.
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise ValidationError('Must be the id of one of your data sets, or "sample:<name>".')
    dataset = BacktestDataset.objects.filter(owner=owner, pk=int(value)).first()
    if dataset is None:
        raise ValidationError(f"You have no data set with id {value}.")
    if dataset.status != DatasetStatus.READY.value:
        raise ValidationError(f"Data set {dataset.name!r} is not ready ({dataset.status}).")
    info = {
        "id": dataset.pk,
        "name": dataset.name,
        "symbol": dataset.symbol or None,
        **_facts(dataset.start, dataset.end),
    }
    info["candles"] = dataset.candles
    return {"dataset": dataset, "sample": "", "info": info}


def _facts(start: datetime | None, end: datetime | None) -> dict[str, str | None]:
    return {"start": _iso(start), "end": _iso(end)}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- answers ---------------------------------------------------------------------------------------------------------
class BacktestProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Candles replayed.")
    total = serializers.IntegerField(help_text="Candles in the data set.")
    eta_seconds = serializers.IntegerField(allow_null=True, help_text="Estimated seconds left while it runs.")


class BacktestDatasetInfoSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text='Its id, "sample:<name>", or null once deleted.')
    name = serializers.CharField()
    symbol = serializers.CharField(allow_null=True)
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)
    candles = serializers.IntegerField()


class BacktestListSerializer(serializers.ModelSerializer):
    """A backtest: what it ran (parameters, data set, options), how far it is, and its summary once done."""

    progress = serializers.SerializerMethodField()
    dataset = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(default_timezone=UTC, read_only=True)
    started_at = serializers.DateTimeField(default_timezone=UTC, read_only=True)
    finished_at = serializers.DateTimeField(default_timezone=UTC, read_only=True)
    parameters = serializers.JSONField(read_only=True, help_text="symbol and every grid/risk parameter it ran with.")
    options = serializers.JSONField(read_only=True, help_text="initial_quote, initial_base, slippage_pct, fees.")
    summary = serializers.JSONField(
        read_only=True, allow_null=True, help_text="The result's figures (PnL, fees, drawdown, …) once done."
    )

    class Meta:
        model = Backtest
        fields = [
            "id",
            "status",
            "progress",
            "strategy",
            "parameters",
            "dataset",
            "options",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "summary",
        ]
        read_only_fields = fields

    @extend_schema_field(BacktestProgressSerializer)
    def get_progress(self, backtest: Backtest) -> dict[str, Any]:
        running = backtest.status == BacktestStatus.RUNNING.value
        return {
            "done": backtest.progress_done,
            "total": backtest.progress_total,
            "eta_seconds": backtest.eta_seconds if running else None,
        }

    @extend_schema_field(BacktestDatasetInfoSerializer)
    def get_dataset(self, backtest: Backtest) -> dict[str, Any]:
        info: dict[str, Any] = dict(backtest.dataset_info)
        if not backtest.sample and backtest.dataset_id is None:
            info["id"] = None  # deleted since
        return info

    @extend_schema_field(OpenApiTypes.STR)
    def get_error(self, backtest: Backtest) -> str | None:
        return backtest.error or None


class BacktestSerializer(BacktestListSerializer):
    equity_curve = serializers.JSONField(
        read_only=True, allow_null=True, help_text='[[time, "equity"], …] at candle closes, at most 1000 points.'
    )
    gaps = serializers.JSONField(read_only=True, allow_null=True, help_text="[{start, end, seconds}] without data.")

    class Meta(BacktestListSerializer.Meta):
        fields = [*BacktestListSerializer.Meta.fields, "equity_curve", "gaps"]
        read_only_fields = fields


class BacktestFillSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    side = serializers.CharField()
    role = serializers.CharField()
    price = serializers.CharField()
    amount = serializers.CharField()
    fee = serializers.CharField()
    fee_currency = serializers.CharField()
    client_order_id = serializers.CharField()


class BacktestPositionSerializer(serializers.Serializer):
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    buy_price = serializers.CharField()
    sell_price = serializers.CharField(allow_null=True)
    amount = serializers.CharField()
    pnl = serializers.CharField(allow_null=True, help_text="Realized, net of both fees; null while open.")
    exit_reason = serializers.CharField(allow_null=True)


class BacktestCandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()


# --- the view --------------------------------------------------------------------------------------------------------
class BacktestViewSet(
    OwnedQuerysetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Backtests: your grid parameters (or a strategy's) replayed over historical candles by the same engine that
    trades live, on a backtest worker. Newest first."""

    model = Backtest
    serializer_class = BacktestSerializer
    filter_backends: list[Any] = []
    schema_errors = {"create": (503,), "candles": (409,)}

    def get_queryset(self) -> QuerySet[Backtest]:
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset.defer("equity_curve", "gaps")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "create":
            return BacktestRequestSerializer
        if self.action == "list":
            return BacktestListSerializer
        return BacktestSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        runs.fail_stale(self.get_queryset())
        return super().list(request, *args, **kwargs)

    def get_object(self) -> Backtest:
        backtest: Backtest = super().get_object()
        if backtest.status == BacktestStatus.RUNNING.value and runs.fail_stale(Backtest.objects.filter(pk=backtest.pk)):
            backtest.refresh_from_db()
        return backtest

    @extend_schema(request=BacktestRequestSerializer, responses={202: BacktestSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a backtest. Parameters come from `strategy` (one of yours) with any given here replacing its own,
        or all from here; they are checked with the strategy rules (400 naming each field and its range). It runs
        on a backtest worker: poll GET /api/backtests/{id} for its progress and result."""
        serializer = BacktestRequestSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        chosen = data["dataset"]
        backtest = Backtest.objects.create(
            owner=cast("User", request.user),  # IsAuthenticated: never anonymous here
            strategy=data["strategy"],
            parameters=data["parameters"],
            dataset=chosen["dataset"],
            sample=chosen["sample"],
            dataset_info=chosen["info"],
            options=data["options"],
        )
        try:
            job = enqueue_backtest(backtest.pk)
        except redis.RedisError:
            runs.fail(backtest.pk, "The job queue (Redis) could not be reached; nothing ran.")
            raise ServiceUnavailable("The job queue (Redis) cannot be reached; try again later.") from None
        Backtest.objects.filter(pk=backtest.pk).update(job_id=job.id)
        backtest.refresh_from_db()
        return Response(BacktestSerializer(backtest).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            202: OpenApiResponse(BacktestSerializer, description="Was queued or running: now cancelled."),
            204: OpenApiResponse(description="Had finished: deleted with its results."),
        }
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel a queued or running backtest (202, its status "cancelled"; a running one stops within a second),
        or delete a finished one with its results (204)."""
        backtest = self.get_object()
        if runs.cancel(backtest.pk):
            backtest.refresh_from_db()
            return Response(BacktestSerializer(backtest).data, status=status.HTTP_202_ACCEPTED)
        backtest.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: BacktestFillSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def fills(self, request: Request, pk: str | None = None) -> Response:
        """Every fill of a finished backtest, in time order (empty before it is done)."""
        return Response(results.fills_view(results.read_records(self.get_object(), results.FILLS)))

    @extend_schema(responses={200: BacktestPositionSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def positions(self, request: Request, pk: str | None = None) -> Response:
        """The lots a finished backtest held: closed ones in the order they closed, then those still open."""
        return Response(results.positions_view(results.read_records(self.get_object(), results.POSITIONS)))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "max", int, description=f"At most this many bars, 2 to {MAX_BARS}; default {DEFAULT_BARS}."
            ),
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Candles opening at or after (ISO 8601)."),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="Candles opening at or before (ISO 8601)."),
        ],
        responses={200: BacktestCandleSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def candles(self, request: Request, pk: str | None = None) -> Response:
        """The backtest's candles merged into at most `max` bars (each: the first open, the highest high, the lowest
        low and the last close of its candles), for drawing its fills on. 409 once its data set is deleted."""
        backtest = self.get_object()
        bars = query_int(request, "max", 2, MAX_BARS) or DEFAULT_BARS
        start, end = _query_time(request, "from"), _query_time(request, "to")
        if start is not None and end is not None and end < start:
            raise ValidationError({"to": ["Must not be before `from`."]})
        gone = StateConflict("This backtest's data set was deleted: its candles are gone.")
        if not backtest.sample and backtest.dataset_id is None:
            raise gone
        try:
            series = ds.load_dataset(backtest.dataset_ref)
        except ds.DatasetUnavailable:
            raise gone from None
        return Response(merged_bars(series, bars, start, end))


def _query_time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({name: ["Must be a time in ISO 8601, e.g. 2024-01-31T12:00:00Z."]})
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

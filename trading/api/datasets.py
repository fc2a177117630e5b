"""/api/backtests/datasets: the candles backtests run on — the samples AresBot ships and your uploads/downloads."""

from __future__ import annotations

import builtins
import re
from datetime import UTC
from pathlib import PurePath
from typing import Any, cast

import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.errors import ServiceUnavailable, StateConflict
from aresbot.viewsets import OwnedQuerysetMixin
from exchanges import registry
from exchanges.markets import binance_spot_markets
from exchanges.paper.feeds import DATA_DIR
from exchanges.paper.series import CandleDataError
from exchanges.paper.sources import DATASETS
from trading.backtests import datasets as ds
from trading.backtests.models import ACTIVE_BACKTEST_STATUSES, Backtest, BacktestDataset
from trading.backtests.states import DatasetSource, DatasetStatus
from trading.runtime.queues import download_job_id, enqueue_dataset_download

_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")
SYMBOL_MESSAGE = "Must be a market symbol BASE/QUOTE of letters and digits, e.g. BTC/USDT."
# Multipart framing and the small fields around the files: an upload whose body is over the limit by more than this
# is refused before it is read.
_FRAMING = 64 * 1024
# Zip archives (Binance's dumps come zipped) may unpack to this many times the upload limit: CSV packs about 4:1.
UNPACKED_FACTOR = 4


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class BacktestDatasetSerializer(serializers.Serializer):
    """Candles a backtest can run on."""

    id = serializers.SerializerMethodField(help_text='"sample:<name>" for a shipped sample, else the data set\'s id.')
    name = serializers.CharField()
    # A field named like Field.source: DRF takes declared fields off the class, so only mypy minds.
    source = serializers.ChoiceField(choices=[s.value for s in DatasetSource])  # type: ignore[assignment]
    symbol = serializers.CharField(allow_null=True, help_text="The market, when known (BASE/QUOTE).")
    interval_seconds = serializers.IntegerField(help_text="The candles' usual spacing.")
    start = serializers.DateTimeField(allow_null=True, default_timezone=UTC, help_text="The first candle's open.")
    end = serializers.DateTimeField(allow_null=True, default_timezone=UTC, help_text="The last candle's open.")
    candles = serializers.IntegerField()
    gaps = serializers.IntegerField(help_text="Stretches without candles, longer than the usual spacing.")
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField(allow_null=True, default_timezone=UTC)
    status = serializers.CharField(help_text="ready, downloading or failed (a download).")
    progress = ProgressSerializer(help_text="A download's candles fetched of those expected.")
    error = serializers.CharField(allow_null=True)
    market_rules = serializers.JSONField(
        allow_null=True,
        help_text="A download's: the exchange's rules for the symbol (tick_size, step_size, min_amount, "
        "min_notional, fees …, decimal strings), which its backtests trade by. Null: the Binance rules AresBot ships.",
    )

    @extend_schema_field(OpenApiTypes.STR)
    def get_id(self, row: dict[str, Any]) -> int | str:
        value: int | str = row["id"]
        return value


def sample_row(name: str) -> dict[str, Any]:
    sample = DATASETS[name]
    facts = ds.sample_facts(name)
    return {
        "id": f"{ds.SAMPLE_PREFIX}{name}",
        "name": name,
        "source": DatasetSource.SAMPLE.value,
        "symbol": sample.symbol,
        "interval_seconds": facts.interval_seconds,
        "start": facts.start,
        "end": facts.end,
        "candles": facts.candles,
        "gaps": facts.gaps,
        "size_bytes": (DATA_DIR / sample.file).stat().st_size,
        "created_at": None,
        "status": "ready",
        "progress": {"done": facts.candles, "total": facts.candles},
        "error": None,
        "market_rules": None,
    }


def dataset_row(dataset: BacktestDataset) -> dict[str, Any]:
    return {
        "id": dataset.pk,
        "name": dataset.name,
        "source": dataset.source,
        "symbol": dataset.symbol or None,
        "interval_seconds": dataset.interval_seconds,
        "start": dataset.start,
        "end": dataset.end,
        "candles": dataset.candles,
        "gaps": dataset.gaps,
        "size_bytes": dataset.size_bytes,
        "created_at": dataset.created_at,
        "status": dataset.status,
        "progress": {"done": dataset.progress_done, "total": dataset.progress_total},
        "error": dataset.error or None,
        "market_rules": dataset.market_rules,
    }


class DatasetUploadSerializer(serializers.Serializer):
    """One or more candle files, in time order (a Binance data-dump month per file, zipped as Binance ships them or
    not, header OHLCV CSV, or JSON [[ms, open, high, low, close, volume], …]); checked whole before anything is
    stored."""

    files = serializers.ListField(child=serializers.FileField(), help_text="The candle files, oldest first.")
    symbol = serializers.CharField(
        required=False,
        help_text="The market, BASE/QUOTE; by default read from a Binance file name (BTCUSDT-1m-2024-01.csv).",
    )
    name = serializers.CharField(required=False, max_length=200, help_text="By default the files' names.")


class DatasetDownloadSerializer(serializers.Serializer):
    """Candles to download from an exchange into a data set of yours."""

    exchange = serializers.CharField(max_length=40, help_text="A CCXT exchange id: binance, kraken, okx, …")
    symbol = serializers.CharField(max_length=41, help_text="The market, BASE/QUOTE.")
    timeframe = serializers.RegexField(
        r"^[1-9][0-9]{0,2}[smhd]$",
        help_text="The candles' length as the exchange names it: 1m, 5m, 1h, 1d, … (at most a day).",
        error_messages={"invalid": "Must be a candle length such as 1m, 5m, 15m, 1h, 4h or 1d."},
    )
    since = serializers.DateTimeField(help_text="The first candle's open, ISO 8601.")
    until = serializers.DateTimeField(required=False, allow_null=True, help_text="Up to (not including); default now.")
    name = serializers.CharField(required=False, max_length=200)

    def validate_exchange(self, value: str) -> str:
        value = value.strip().lower()
        if value == registry.PAPER or not registry.is_supported(value):
            raise serializers.ValidationError("Must be a CCXT exchange id such as binance, kraken or okx.")
        return value

    def validate_symbol(self, value: str) -> str:
        value = value.strip().upper()
        if not _SYMBOL.match(value):
            raise serializers.ValidationError(SYMBOL_MESSAGE)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("until")
        if until is not None and until <= attrs["since"]:
            raise ValidationError({"until": ["Must be after `since`."]})
        if attrs["since"] >= timezone.now():
            raise ValidationError({"since": ["Must be in the past."]})
        return attrs


def symbol_from_file_name(name: str) -> str:
    """ "BTC/USDT" for a Binance dump named BTCUSDT-1m-2024-01.csv; "" when the name says no known market."""
    pair = PurePath(name).name.split("-", 1)[0].upper()
    return next((symbol for symbol in binance_spot_markets() if symbol.replace("/", "") == pair), "")


class BacktestDatasetViewSet(
    OwnedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Candles for backtests: the samples AresBot ships (id "sample:<name>"), then your uploads and downloads."""

    model = BacktestDataset
    serializer_class = BacktestDatasetSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    lookup_value_regex = r"[^/]+"
    schema_errors = {"destroy": (409,), "download": (503,)}

    def get_object(self) -> BacktestDataset:
        raw = str(self.kwargs["pk"])
        if not raw.isdigit():
            raise NotFound()
        found = self.get_queryset().filter(pk=int(raw)).first()
        if found is None:
            raise NotFound()
        return found

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The samples AresBot ships, then your own data sets, newest first."""
        rows = [sample_row(name) for name in DATASETS]
        rows += [dataset_row(d) for d in self.get_queryset().defer("request")]
        return Response(BacktestDatasetSerializer(rows, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH, description='An id or "sample:<name>".')]
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One data set: a download's status and progress while it runs."""
        raw = str(kwargs["pk"])
        if ds.is_sample_ref(raw):
            name = raw[len(ds.SAMPLE_PREFIX) :]
            if name not in DATASETS:
                raise NotFound()
            return Response(BacktestDatasetSerializer(sample_row(name)).data)
        return Response(BacktestDatasetSerializer(dataset_row(self.get_object())).data)

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete one of your data sets (not a sample). 409 while a queued or running backtest uses it; finished
        backtests keep their results."""
        dataset = self.get_object()
        if Backtest.objects.filter(dataset=dataset, status__in=ACTIVE_BACKTEST_STATUSES).exists():
            raise StateConflict("A queued or running backtest uses this data set: cancel it first.")
        dataset.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request={"multipart/form-data": DatasetUploadSerializer}, responses={201: BacktestDatasetSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upload candle files (multipart `files`, one or several in time order, zip archives as Binance ships its
        dumps or plain, at most BACKTEST_UPLOAD_MAX_BYTES in all). Each file is parsed and checked before anything
        is stored: a malformed, unsorted or duplicated candle is a 400 on `files` naming the file, the line and the
        reason."""
        limit = settings.BACKTEST_UPLOAD_MAX_BYTES
        too_big = f"At most {limit} bytes ({limit / 1024**2:g} MB) of candle files in one upload."
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit + _FRAMING:
            raise ValidationError({"files": [too_big]})
        files = request.FILES.getlist("files")
        if not files:
            raise ValidationError({"files": ["Send one or more candle files (multipart field `files`)."]})
        if sum(f.size or 0 for f in files) > limit:
            raise ValidationError({"files": [too_big]})
        names = [PurePath(f.name or "candles").name for f in files]
        fields: Any = request.data
        symbol = str(fields.get("symbol") or "").strip().upper() or symbol_from_file_name(names[0])
        if symbol and not _SYMBOL.match(symbol):
            raise ValidationError({"symbol": [SYMBOL_MESSAGE]})
        try:
            series = ds.parse_files(
                [(name, f.read()) for name, f in zip(names, files, strict=True)], unpacked_limit=UNPACKED_FACTOR * limit
            )
        except CandleDataError as exc:
            raise ValidationError({"files": [str(exc)]}) from None
        except ValueError as exc:
            raise ValidationError({"files": [str(exc)]}) from None
        name = str(fields.get("name") or "").strip()[:200] or (
            names[0] if len(names) == 1 else f"{names[0]} … {names[-1]} ({len(names)} files)"
        )
        dataset = ds.create_uploaded_dataset(
            cast("User", request.user), name, series, symbol=symbol, size_bytes=sum(f.size or 0 for f in files)
        )
        return Response(BacktestDatasetSerializer(dataset_row(dataset)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DatasetDownloadSerializer, responses={202: BacktestDatasetSerializer})
    @action(detail=False, methods=["post"])
    def download(self, request: Request) -> Response:
        """Download candles from an exchange into a new data set, on a backtest worker: 202 with the data set,
        status "downloading"; poll GET /api/backtests/datasets/{id} until "ready" (or "failed" with the reason)."""
        serializer = DatasetDownloadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        asked = serializer.validated_data
        until = asked.get("until")
        dataset = BacktestDataset.objects.create(
            owner=cast("User", request.user),  # IsAuthenticated: never anonymous here
            name=asked.get("name")
            or f"{asked['symbol']} {asked['timeframe']} {asked['exchange']} from {asked['since']:%Y-%m-%d}",
            source=DatasetSource.DOWNLOAD.value,
            symbol=asked["symbol"],
            status=DatasetStatus.DOWNLOADING.value,
            request={
                "exchange": asked["exchange"],
                "symbol": asked["symbol"],
                "timeframe": asked["timeframe"],
                "since": asked["since"].isoformat(),
                "until": until.isoformat() if until is not None else None,
            },
        )
        # The row names its job before the job exists: the job checks that it is the row's (a rescued download's
        # lost job, should it turn up, stops).
        dataset.job_id = download_job_id(dataset.pk)
        dataset.save(update_fields=["job_id"])
        try:
            enqueue_dataset_download(dataset.pk, dataset.job_id)
        except redis.RedisError:
            dataset.delete()
            raise ServiceUnavailable("The job queue (Redis) cannot be reached; try again later.") from None
        return Response(BacktestDatasetSerializer(dataset_row(dataset)).data, status=status.HTTP_202_ACCEPTED)

    def get_parsers(self) -> builtins.list[Any]:
        if getattr(self, "action", None) == "create":
            return [MultiPartParser()]
        return super().get_parsers()

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.api import Pagination
from aresbot.viewsets import OwnedQuerysetMixin
from trading.api.export import COLUMNS, CSVRenderer, csv_response
from trading.api.filters import PnlFilter, TradeFilter
from trading.api.serializers import PnlSeriesSerializer, TradeSerializer, TradeStatsSerializer
from trading.models import Fill, Order
from trading.stats import Bucket, Scope, pnl_series, scope_for, strategies, trade_stats


class TradeViewSet(OwnedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The trades (fills) of your strategies, newest first: what was bought and sold, at which price, and the fee.

    Filter by strategy, side, symbol and time (`since`, `until`: ISO 8601).
    """

    model = Fill
    owner_lookup = "strategy__owner"
    serializer_class = TradeSerializer
    filterset_class = TradeFilter

    def owned(self, request_user: Any) -> QuerySet[Fill]:
        # The caller's strategies as a list of ids rather than a join: over the fills alone MariaDB reads a page
        # newest first from the time index (50 rows), where a join made it sort every fill of the user first
        # (100,000 fills: ~600 ms → ~5 ms; bench/trades_stats.py). Strategy and order (with the position a sale
        # closed, whose PnL is on the sale's row) come for the page's rows, a query each.
        return Fill.objects.filter(strategy_id__in=owned_strategy_ids(request_user)).prefetch_related(
            "strategy", Prefetch("order", queryset=Order.objects.select_related("closed_position"))
        )

    def get_renderers(self) -> list[BaseRenderer]:
        renderers = super().get_renderers()
        # The list speaks CSV; so does a method the view does not have (no action), whose answer is then its 405.
        if self.action in ("list", None):
            renderers.append(CSVRenderer())
        return renderers

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="csv: every matching trade (not one page) as a CSV file with a header row, streamed.",
            )
        ],
        responses={
            (200, "application/json"): TradeSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With format=csv (or Accept: text/csv): a header row (" + ", ".join(COLUMNS) + "), "
                "then one row per trade, newest first; numbers as exact decimals.",
            ),
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response | StreamingHttpResponse:  # type: ignore[override]
        """The trades (fills) of your strategies, newest first, a page at a time; `format=csv` streams them all."""
        if request.accepted_renderer.format != "csv":
            return super().list(request, *args, **kwargs)
        # Every trade, not a page; yet page and page_size are checked as the list checks them (the schema's word).
        pages = Pagination()
        pages.get_page_size(request)
        pages.get_page_number(request, None)
        fills = self.filter_queryset(self.get_queryset())
        return csv_response(fills, f"aresbot-trades-{timezone.localdate():%Y%m%d}.csv")

    def handle_exception(self, exc: Exception) -> Response:
        # An error is told in JSON, also to a request that asked for CSV.
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and renderer.format == "csv":
            self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(responses=TradeStatsSerializer, filters=True)
    @action(detail=False, methods=["get"])
    def stats(self, request: Request) -> Response:
        """Totals over your trades, with the same filters as the list: volume, fees and realized profit per
        currency, wins and losses, and the profit per day (days in the server's TIME_ZONE)."""
        # The filters are only checked here: the figures read the caller's strategies themselves (_scope).
        filterset = TradeFilter(request.query_params, queryset=Fill.objects.none(), request=request)
        if not filterset.is_valid():
            return Response(filterset.errors, status=400)
        # A side filter narrows the fills; PnL belongs to round trips, so it stays over both sides.
        # The figures are already what the answer shows (TradeStatsSerializer documents them): no second pass.
        return Response(trade_stats(_scope(request, filterset.form.cleaned_data)))

    @extend_schema(responses=PnlSeriesSerializer, filters=True)
    @action(detail=False, methods=["get"], filterset_class=PnlFilter, pagination_class=None)
    def pnl(self, request: Request) -> Response:
        """Realized profit over time, for charts: per day in the server's TIME_ZONE (or per hour), with its running
        total, per quote currency, over your strategies or those the filters name (`since`/`until` select by the
        time a position closed; the running total starts from what was realized before `since`)."""
        filterset = PnlFilter(request.query_params, queryset=Fill.objects.none(), request=request)
        if not filterset.is_valid():
            return Response(filterset.errors, status=400)
        data = filterset.form.cleaned_data
        return Response(pnl_series(_scope(request, data), Bucket(data.get("bucket") or Bucket.DAY)))


def owned_strategy_ids(user: Any) -> list[int]:
    return list(strategies().filter(owner=user).values_list("pk", flat=True))


def _scope(request: Request, data: dict[str, Any]) -> Scope:
    user_id = request.user.pk
    assert user_id is not None  # signed in: the API's permission
    return scope_for(
        user_id,
        strategy=data.get("strategy"),
        symbol=data.get("symbol"),
        since=data.get("since"),
        until=data.get("until"),
        side=data.get("side") or None,
    )

"""The exchanges an account can be on, and their markets, for the account form and the strategy's symbol picker."""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

import redis
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.api import Pagination, query_bool
from aresbot.redis import get_redis
from exchanges import registry
from exchanges.base import plain_number
from exchanges.markets import binance_spot_markets
from exchanges.paper.sources import DATASETS, ReplayDataset
from trading.runtime.markets import MarketSummary, exchange_markets

logger = logging.getLogger(__name__)

CATALOG_KEY = "exchanges:catalog:{version}"
CATALOG_CACHE_SECONDS = 86400


class ExchangeSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The CCXT id an account names (`paper` for simulated trading).")
    name = serializers.CharField()
    paper = serializers.BooleanField(help_text="Simulated trading: no credentials, a price source instead.")
    testnet = serializers.BooleanField(help_text="Whether an account can trade on its testnet (sandbox).")
    api_key = serializers.BooleanField(help_text="An account needs an API key.")
    secret = serializers.BooleanField(help_text="An account needs an API secret.")
    passphrase = serializers.BooleanField(help_text="An account needs a passphrase as well (OKX, KuCoin …).")


class MarketSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    base = serializers.CharField()
    quote = serializers.CharField()
    tick_size = serializers.CharField(allow_null=True, help_text="Prices are multiples of it.")
    step_size = serializers.CharField(allow_null=True, help_text="Amounts are multiples of it.")
    min_amount = serializers.CharField(allow_null=True, help_text="The smallest order amount, in base.")
    min_notional = serializers.CharField(allow_null=True, help_text="The smallest price × amount, in quote.")
    maker_fee = serializers.CharField(allow_null=True, help_text="A fee rate: 0.001 is 0.1 %.")
    taker_fee = serializers.CharField(allow_null=True)
    max_open_orders = serializers.IntegerField(help_text="Open orders per symbol and account; 0: none stated.")


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What a paper account's `replay_dataset` names.")
    symbol = serializers.CharField(help_text="The one market an account replaying it trades.")
    interval_seconds = serializers.IntegerField(help_text="The length of one candle.")
    description = serializers.CharField()


def _dataset_row(dataset: ReplayDataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "symbol": dataset.symbol,
        "interval_seconds": int(dataset.interval.total_seconds()),
        "description": dataset.description,
    }


def _entry(info: registry.ExchangeInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "paper": info.id == registry.PAPER,
        "testnet": info.testnet,
        "api_key": info.needs.api_key,
        "secret": info.needs.secret,
        "passphrase": info.needs.passphrase,
    }


@cache
def catalog() -> list[dict[str, Any]]:
    """Paper, then every CCXT exchange by id. Reading what each needs means making an instance of each (seconds in
    all), so the list is kept in Redis for every process of this CCXT version, and in this process."""
    import ccxt

    key = CATALOG_KEY.format(version=ccxt.__version__)
    try:
        cached = get_redis().get(key)
    except redis.RedisError as exc:
        logger.warning("exchange catalog cache unreadable: %s", exc)
        cached = None
    if isinstance(cached, str):
        return list(json.loads(cached))
    entries = [_entry(registry.PAPER_INFO)] + [
        _entry(registry.describe(exchange_id)) for exchange_id in sorted(registry.ccxt_exchange_ids())
    ]
    try:
        get_redis().set(key, json.dumps(entries), ex=CATALOG_CACHE_SECONDS)
    except redis.RedisError as exc:
        logger.warning("exchange catalog not cached: %s", exc)
    return entries


def _summary_row(market: MarketSummary) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return None if value is None else plain_number(value)

    return {
        "symbol": market.symbol,
        "base": market.base,
        "quote": market.quote,
        "tick_size": text(market.tick_size),
        "step_size": text(market.step_size),
        "min_amount": text(market.min_amount),
        "min_notional": text(market.min_notional),
        "maker_fee": text(market.maker_fee),
        "taker_fee": text(market.taker_fee),
        "max_open_orders": market.max_open_orders,
    }


class ExchangeViewSet(viewsets.ViewSet):
    """The exchanges this installation can trade on (any exchange CCXT supports, and paper trading), with what an
    account on each needs; and each one's markets."""

    lookup_field = "id"
    lookup_value_regex = "[a-z0-9_]+"
    # The list is a hundred-odd exchanges at once; the markets come a page at a time.
    pagination_class: type[Pagination] | None = None
    schema_errors = {"markets": (503,)}  # the exchange's markets cannot be loaded

    @extend_schema(responses={200: ExchangeSerializer(many=True)})
    def list(self, request: Request) -> Response:
        return Response(ExchangeSerializer(catalog(), many=True).data)

    @extend_schema(
        responses={200: MarketSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "id", str, OpenApiParameter.PATH, enum=[registry.PAPER, *sorted(registry.ccxt_exchange_ids())]
            ),
            OpenApiParameter("search", str, description="Part of a symbol, in any case: btc finds BTC/USDT, ETH/BTC."),
            OpenApiParameter("testnet", bool, description="The markets of the exchange's testnet."),
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=Pagination)
    def markets(self, request: Request, id: str | None = None) -> Response:
        """The exchange's spot markets, by symbol, with their rules: tick, step, minimum amount and notional,
        fees and the cap on open orders (kept an hour; 503 naming the exchange when they cannot be loaded).
        `paper`: the markets whose rules AresBot ships, by which a paper account on a replay trades (one whose
        prices follow a live exchange trades that exchange's markets: ask for that exchange)."""
        exchange_id = str(id)
        if not registry.is_supported(exchange_id):
            raise NotFound()
        testnet = query_bool(request, "testnet")
        if testnet and not registry.has_sandbox(exchange_id):
            raise ValidationError({"testnet": [f"{exchange_id} has no testnet."]})
        search = request.query_params.get("search", "").strip().upper()
        if "\x00" in search:
            raise ValidationError({"search": ["Null characters are not allowed."]})  # as Django's form fields say
        if exchange_id == registry.PAPER:
            summaries = {s: MarketSummary.of(rules) for s, rules in binance_spot_markets().items()}
        else:
            summaries = dict(exchange_markets(exchange_id, testnet=testnet).summaries)
        rows = [_summary_row(summaries[symbol]) for symbol in sorted(summaries) if search in symbol]
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(MarketSerializer(page, many=True).data)

    @extend_schema(
        responses={200: DatasetSerializer(many=True)},
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH, enum=[registry.PAPER])],
    )
    @action(detail=True, methods=["get"])
    def datasets(self, request: Request, id: str | None = None) -> Response:
        """The candle data sets AresBot ships, which a paper account can replay as its price source (by name)."""
        if id != registry.PAPER:
            raise NotFound()
        rows = [_dataset_row(DATASETS[name]) for name in sorted(DATASETS)]
        return Response(DatasetSerializer(rows, many=True).data)

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.models import ExchangeAccount
from aresbot.filters import BooleanFilter


class ExchangeAccountFilter(django_filters.FilterSet):
    exchange = django_filters.CharFilter(method="filter_exchange", help_text="A CCXT exchange id, or paper.")
    is_active = BooleanFilter(help_text="true or false.")
    testnet = BooleanFilter(help_text="true or false.")

    class Meta:
        model = ExchangeAccount
        fields = ["exchange", "is_active", "testnet"]

    def filter_exchange(self, queryset: QuerySet[ExchangeAccount], name: str, value: str) -> QuerySet[ExchangeAccount]:
        # Stored lower-case (ExchangeAccount.clean), so Binance finds binance.
        return queryset.filter(exchange=value.strip().lower())

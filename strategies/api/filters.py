from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from aresbot.filters import IdFilter
from strategies.choices import DesiredState
from strategies.models import Strategy


class StrategyFilter(django_filters.FilterSet):
    account = IdFilter(field_name="account_id", help_text="The id of one of your exchange accounts.")
    symbol = django_filters.CharFilter(method="filter_symbol", help_text="A market symbol, e.g. BTC/USDT.")
    desired_state = django_filters.ChoiceFilter(choices=DesiredState.choices)

    class Meta:
        model = Strategy
        fields = ["account", "symbol", "desired_state"]

    def filter_symbol(self, queryset: QuerySet[Strategy], name: str, value: str) -> QuerySet[Strategy]:
        # Stored upper-case (Strategy.clean), so btc/usdt finds BTC/USDT.
        return queryset.filter(symbol=value.strip().upper())

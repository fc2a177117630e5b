from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from aresbot.filters import IdFilter
from exchanges.base import Side
from trading.choices import choices_of
from trading.models import Fill


class TradeFilter(django_filters.FilterSet):
    strategy = IdFilter(field_name="strategy_id", help_text="The id of one of your strategies.")
    side = django_filters.ChoiceFilter(choices=choices_of(Side))
    symbol = django_filters.CharFilter(field_name="strategy__symbol", method="filter_symbol")
    since = django_filters.IsoDateTimeFilter(field_name="executed_at", lookup_expr="gte", label="Executed at or after")
    until = django_filters.IsoDateTimeFilter(field_name="executed_at", lookup_expr="lt", label="Executed before")

    class Meta:
        model = Fill
        fields = ["strategy", "side", "symbol", "since", "until"]

    def filter_symbol(self, queryset: QuerySet[Fill], name: str, value: str) -> QuerySet[Fill]:
        return queryset.filter(**{name: value.strip().upper()})

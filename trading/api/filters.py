from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from aresbot.filters import IdFilter
from exchanges.base import OrderStatus, Side
from trading.choices import choices_of
from trading.models import Fill, Order
from trading.stats import Bucket, strategies


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
        # The symbol's strategies as ids, not a join (see TradeViewSet.owned): the fills are then read alone.
        matching = strategies().filter(symbol=value.strip().upper())
        user = getattr(self.request, "user", None)
        if user is not None:
            matching = matching.filter(owner=user)
        return queryset.filter(strategy_id__in=list(matching.values_list("pk", flat=True)))


class PnlFilter(TradeFilter):
    """The trades filters that PnL has (it belongs to round trips, not to one side), and the length of a point."""

    side = None
    since = django_filters.IsoDateTimeFilter(field_name="closed_at", lookup_expr="gte", label="Closed at or after")
    until = django_filters.IsoDateTimeFilter(field_name="closed_at", lookup_expr="lt", label="Closed before")
    bucket = django_filters.ChoiceFilter(
        choices=[(b.value, b.value) for b in Bucket],
        method="keep",
        error_messages={"invalid_choice": f"Must be one of {', '.join(Bucket)}."},
        help_text="day (the default): a point per day in the server's TIME_ZONE; hour: a point per whole UTC hour.",
    )

    class Meta:
        model = Fill
        fields = ["strategy", "symbol", "since", "until", "bucket"]

    def keep(self, queryset: QuerySet[Fill], name: str, value: str) -> QuerySet[Fill]:
        return queryset  # read from the cleaned data, not a filter of the fills


# `open` is what rests on the exchange or is on its way there; `closed` what is done with, however it ended.
ORDER_STATUS_GROUPS: dict[str, tuple[OrderStatus, ...]] = {
    "open": (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED),
    "closed": (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.LOST),
    "all": tuple(OrderStatus),
    **{s.value: (s,) for s in OrderStatus if s is not OrderStatus.OPEN},
}
ORDER_STATUS_MESSAGE = f"Must be one of {', '.join(ORDER_STATUS_GROUPS)}."


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(name, name) for name in ORDER_STATUS_GROUPS],
        method="filter_status",
        error_messages={"invalid_choice": ORDER_STATUS_MESSAGE},
    )

    class Meta:
        model = Order
        fields = ["status"]

    def filter_status(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        return queryset.filter(status__in=[s.value for s in ORDER_STATUS_GROUPS[value]])

    def filter_queryset(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            return self.filter_status(queryset, "status", "open")
        return queryset

"""Strategy events in the API: a strategy's timeline (`GET /api/strategies/{id}/events`, an action of
StrategyViewSet) and the caller's feed over all their strategies (`GET /api/events`) with its unread count, read up
to an id with `POST /api/events/read`. Newest first; another user's strategy is a 404 like a missing one."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.api import Pagination
from aresbot.filters import IdFilter
from aresbot.viewsets import OwnedQuerysetMixin
from trading.choices import choices_of
from trading.events import EventKind, summary
from trading.models import EventReadMark, StrategyEvent
from trading.stats import strategies

KIND_MESSAGE = f"Must be one of {', '.join(EventKind)}."


class EventFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(
        choices=choices_of(EventKind),
        error_messages={"invalid_choice": KIND_MESSAGE},
        help_text="Only events of these kinds (repeat the parameter for several).",
    )
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte", label="At or after (ISO 8601)")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt", label="Before (ISO 8601)")

    class Meta:
        model = StrategyEvent
        fields = ["kind", "since", "until"]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None and hasattr(data, "getlist"):
            # A blank kind means "not given", as for every other filter (the schema's allowEmptyValue).
            data = data.copy()
            data.setlist("kind", [kind for kind in data.getlist("kind") if kind.strip()])
        super().__init__(data, *args, **kwargs)


class FeedFilter(EventFilter):
    strategy = IdFilter(field_name="strategy_id", help_text="The id of one of your strategies.")

    class Meta:
        model = StrategyEvent
        fields = ["strategy", "kind", "since", "until"]


class EventSerializer(serializers.ModelSerializer):
    data = serializers.DictField(  # type: ignore[assignment]  # the field is named `data` in the contract
        read_only=True, help_text="The facts, by kind; money as exact decimal strings, with the symbol."
    )
    summary = serializers.SerializerMethodField(help_text="The event in English (the web app may render its own).")

    class Meta:
        model = StrategyEvent
        fields = ["id", "strategy", "kind", "severity", "at", "first_at", "count", "data", "summary"]
        read_only_fields = fields

    def get_summary(self, obj: StrategyEvent) -> str:
        return summary(obj.kind, obj.data, obj.count)


class FeedEventSerializer(EventSerializer):
    """The feed's events: a schema component of its own, since the feed's pages carry `unread` and a strategy's
    timeline's do not (one name for both would describe one of them wrongly)."""


class FeedPagination(Pagination):
    """A page of the feed, with how many of the caller's events are newer than their read mark."""

    unread = 0

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data["unread"] = self.unread
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged: dict[str, Any] = super().get_paginated_response_schema(schema)
        paged["properties"]["unread"] = {"type": "integer", "description": "Your events newer than your read mark."}
        paged["required"] = [*paged.get("required", []), "unread"]
        return paged


class ReadMarkSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,  # the id column's range
        help_text="The id of the newest event read; by default your newest event (everything read).",
    )


class ReadMarkResultSerializer(serializers.Serializer):
    last_read_id = serializers.IntegerField()
    unread = serializers.IntegerField()


def owned_events(user: Any) -> QuerySet[StrategyEvent]:
    # The caller's strategies as a list of ids rather than a join: the events are then read from their own index.
    ids = list(strategies().filter(owner=user).values_list("pk", flat=True))
    return StrategyEvent.objects.filter(strategy_id__in=ids)


def last_read_id(user: Any) -> int:
    mark = EventReadMark.objects.filter(user=user).values_list("last_read_id", flat=True).first()
    return mark or 0


class EventViewSet(OwnedQuerysetMixin, viewsets.GenericViewSet):
    """Your strategies' events, newest first: fills, pauses, errors, starts and stops. `unread` counts those newer
    than your read mark; `POST /api/events/read` moves it."""

    model = StrategyEvent
    serializer_class = FeedEventSerializer
    filterset_class = FeedFilter
    pagination_class = FeedPagination

    def owned(self, request_user: Any) -> QuerySet[StrategyEvent]:
        return owned_events(request_user).order_by("-id")

    def list(self, request: Request) -> Response:
        """Your strategies' events, newest first, a page at a time, with your unread count."""
        events = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(events)
        assert isinstance(self.paginator, FeedPagination)
        self.paginator.unread = self.get_queryset().filter(id__gt=last_read_id(request.user)).count()
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=ReadMarkSerializer, responses={200: ReadMarkResultSerializer}, filters=False)
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def read(self, request: Request) -> Response:
        """Mark your events read up to an id (by default all of them). The mark never moves back."""
        body = ReadMarkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        mine = owned_events(request.user)
        up_to = body.validated_data.get("up_to")
        if up_to is None:
            up_to = mine.order_by("-id").values_list("id", flat=True).first() or 0
        user_id = request.user.pk
        assert user_id is not None  # signed in: the API's permission
        with transaction.atomic():
            mark, _ = EventReadMark.objects.select_for_update().get_or_create(user_id=user_id)
            if up_to > mark.last_read_id:
                mark.last_read_id = up_to
                mark.save(update_fields=["last_read_id"])
        unread = mine.filter(id__gt=mark.last_read_id).count()
        return Response(ReadMarkResultSerializer({"last_read_id": mark.last_read_id, "unread": unread}).data)


class StrategyEventsAction:
    """The `events` action of StrategyViewSet: one strategy's timeline."""

    get_object: Any
    paginate_queryset: Any
    get_paginated_response: Any

    @extend_schema(
        responses={200: EventSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "kind", str, enum=list(EventKind), many=True, description="Only these kinds (repeat for several)."
            ),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="At or after (ISO 8601)."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Before (ISO 8601)."),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[], filterset_class=EventFilter)
    def events(self, request: Request, pk: str | None = None) -> Response:
        """The strategy's events, newest first, a page at a time: filter by `kind` (repeatable) and time (`since`,
        `until`: ISO 8601)."""
        strategy = self.get_object()
        filterset = EventFilter(request.query_params, StrategyEvent.objects.filter(strategy=strategy).order_by("-id"))
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(EventSerializer(page, many=True).data)

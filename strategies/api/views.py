from __future__ import annotations

from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from aresbot.viewsets import OwnedQuerysetMixin
from strategies.api.serializers import StrategySerializer
from strategies.models import Strategy
from strategies.services import delete_strategy


class StrategyViewSet(OwnedQuerysetMixin, viewsets.ModelViewSet):
    model = Strategy
    serializer_class = StrategySerializer
    filterset_fields = ["account", "symbol", "desired_state"]

    def perform_create(self, serializer: BaseSerializer[Strategy]) -> None:
        serializer.save(owner=self.request.user)

    def perform_destroy(self, instance: Strategy) -> None:
        delete_strategy(instance)

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api.filters import ExchangeAccountFilter
from accounts.api.serializers import (
    AccountBalanceSerializer,
    AccountVerificationSerializer,
    ApiTokenSerializer,
    ExchangeAccountSerializer,
    ExchangeProblemSerializer,
    IssuedApiTokenSerializer,
)
from accounts.models import ApiToken, ExchangeAccount
from accounts.services import account_balances, classify_failure, delete_account, verify_account
from aresbot.viewsets import OwnedQuerysetMixin
from exchanges.base import ExchangeError


@method_decorator(sensitive_post_parameters("api_key", "api_secret", "passphrase"), name="dispatch")
class ExchangeAccountViewSet(OwnedQuerysetMixin, viewsets.ModelViewSet):
    """Your exchange accounts: an exchange (or paper trading) and the API key your strategies trade with.

    API keys and secrets are write-only: answers show only their last characters. Leave a secret out of an edit to
    keep it, or send an empty string to remove it. An account that still has strategies cannot be deleted.
    """

    model = ExchangeAccount
    serializer_class = ExchangeAccountSerializer
    filterset_class = ExchangeAccountFilter
    # 503 everywhere: a stored credential that ENCRYPTION_KEY cannot decrypt (aresbot/api.py).
    schema_errors = {"*": (503,), "destroy": (409,)}

    def owned(self, request_user: Any) -> QuerySet[ExchangeAccount]:
        # GROUP BY drops Meta.ordering, so the page order is restated for stable pagination.
        return super().owned(request_user).annotate(strategy_count=Count("strategies")).order_by("name", "id")

    def perform_create(self, serializer: BaseSerializer[ExchangeAccount]) -> None:
        serializer.save(owner=self.request.user)

    def perform_destroy(self, instance: ExchangeAccount) -> None:
        delete_account(instance)

    @extend_schema(request=None, responses={200: AccountVerificationSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        """Check the stored API key with the exchange: whether it can read the balance and trade, or why not
        (a wrong key, an address the key does not allow, a missing permission, the exchange unreachable).

        Answers 200 either way; `ok` tells which. A paper account always passes.
        """
        return Response(AccountVerificationSerializer(verify_account(self.get_object())).data)

    @extend_schema(
        responses={200: AccountBalanceSerializer, 502: ExchangeProblemSerializer, 503: ExchangeProblemSerializer}
    )
    @action(detail=True, methods=["get"])
    def balance(self, request: Request, pk: str | None = None) -> Response:
        """The account's balances on the exchange, every asset above zero (a paper account: its paper money)."""
        account = self.get_object()
        try:
            balances = account_balances(account)
        except ExchangeError as exc:
            reason, refused = classify_failure(exc)
            # 502: the exchange answered and refused (key, permission); 503: unreachable or rate-limited, try later.
            code = status.HTTP_502_BAD_GATEWAY if refused else status.HTTP_503_SERVICE_UNAVAILABLE
            return Response({"ok": False, "reason": reason, "detail": str(exc)}, status=code)
        return Response(AccountBalanceSerializer((account.exchange, balances)).data)


class ApiTokenViewSet(
    OwnedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your API tokens, for scripts: send `Authorization: Token ab_…` with each request.

    A new token is shown once, in the answer that creates it; only its first characters are shown after that.
    Delete a token to revoke it.
    """

    model = ApiToken
    owner_lookup = "user"
    serializer_class = ApiTokenSerializer

    def get_serializer_class(self) -> type[BaseSerializer[ApiToken]]:
        return IssuedApiTokenSerializer if self.action == "create" else ApiTokenSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, raw = ApiToken.objects.issue(request.user, data["name"], data.get("expires_at"))
        token.token = raw  # type: ignore[attr-defined]
        return Response(IssuedApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from accounts import views as account_views
from accounts.api.views import ApiTokenViewSet, ExchangeAccountViewSet
from aresbot import health
from aresbot.api import api_not_found
from aresbot.metrics_view import metrics_view
from frontend.views import spa
from notifications.api import NotificationChannelViewSet
from strategies.api.backtests import BacktestViewSet
from strategies.api.sweeps import SweepViewSet
from strategies.api.views import StrategyViewSet, WorkerListView
from trading.api.datasets import BacktestDatasetViewSet
from trading.api.events import EventViewSet
from trading.api.exchanges import ExchangeViewSet
from trading.api.views import TradeViewSet

# The seed's API has no trailing slashes (/api/accounts/{id}); keep that contract.
router = DefaultRouter(trailing_slash=False)
router.register("accounts", ExchangeAccountViewSet, basename="account")
router.register("strategies", StrategyViewSet, basename="strategy")
router.register("trades", TradeViewSet, basename="trade")
router.register("events", EventViewSet, basename="event")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("exchanges", ExchangeViewSet, basename="exchange")
# Before "backtests": its paths are under /api/backtests/ too (a backtest's id is a number, a data set's path not).
router.register("backtests/datasets", BacktestDatasetViewSet, basename="backtest-dataset")
router.register("backtests", BacktestViewSet, basename="backtest")
router.register("sweeps", SweepViewSet, basename="sweep")
router.register("notifications/channels", NotificationChannelViewSet, basename="notification-channel")

# One password door, allauth's (its server page and its JSON API for the SPA), which asks for the second factor and
# counts failures: the admin's and the browsable API's own login forms would let a password alone in.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/redis", health.health_redis, name="health-redis"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/auth/login/", account_views.api_login),
    path("api/auth/", include("rest_framework.urls")),
    path("api/workers", WorkerListView.as_view(), name="workers"),
    path("api/", include(router.urls)),
    # Any other /api/ path: a JSON 404 like the API's own, not the site's HTML page.
    re_path(r"^api/", api_not_found),
    path("admin/", admin.site.urls),
    # Before allauth's own: only where mail can go out (accounts/views.py).
    path("accounts/password/reset/", account_views.password_reset, name="account_reset_password"),
    path("accounts/", include("allauth.urls")),
    # allauth's JSON API for the SPA (browser client: session cookie + CSRF); see HEADLESS_* in settings.
    path("_allauth/", include("allauth.headless.urls")),
    re_path(r"^_allauth/", api_not_found),
    path("django-rq/", include("django_rq.urls")),
    # Last: the web app answers every other path with its page (frontend/views.py) — but not paths under the
    # server's own prefixes, nor file names (/favicon.ico, a missing asset): those stay a plain 404.
    re_path(r"^(?!(?:api|admin|static|accounts|django-rq|_allauth)/)(?!.*\.\w+$).*$", spa, name="spa"),
]

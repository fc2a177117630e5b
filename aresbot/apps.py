from __future__ import annotations

from django.apps import AppConfig


class AresbotConfig(AppConfig):
    name = "aresbot"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        from aresbot import metrics

        # Every connection, in every process (web, workers, commands), times its queries for /metrics.
        connection_created.connect(metrics.time_queries, dispatch_uid="aresbot.metrics.time_queries")
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None:
                metrics.time_queries(connection)

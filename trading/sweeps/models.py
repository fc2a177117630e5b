"""Sweeps and their results (registered through trading.models, so they belong to the trading app)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trading.backtests.models import BacktestDataset, BacktestStatus
from trading.choices import choices_of


class Sweep(models.Model):
    """A grid of parameter values backtested over one data set: what was asked; results are SweepResult rows.

    A sweep is done when every combination has its row: progress is the count of rows, so a chunk run twice (a
    retry after a worker died) counts each combination once."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sweeps")
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="sweeps"
    )
    # The base parameters, resolved and validated as a backtest's (strategies.backtesting.resolve_parameters); each
    # combination replaces the grid's parameters in them.
    parameters = models.JSONField()
    grid = models.JSONField(help_text="The values swept: trading.sweep.SweepGrid.as_json().")
    dataset = models.ForeignKey(
        BacktestDataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="sweeps"
    )
    sample = models.CharField(max_length=100, blank=True, default="", help_text="A shipped data set's name.")
    dataset_info = models.JSONField(default=dict)
    options = models.JSONField(default=dict, help_text="initial_quote, initial_base, slippage_pct, fees …")
    status = models.CharField(
        max_length=10, choices=choices_of(BacktestStatus), default=BacktestStatus.QUEUED.value, db_index=True
    )
    combinations = models.PositiveIntegerField()
    chunk_size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requeued = models.PositiveSmallIntegerField(default=0, help_text="Times chunks were queued again after loss.")
    requeued_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="sweep_owner_created_idx")]

    def __str__(self) -> str:
        return f"sweep {self.pk} ({self.status})"

    @property
    def dataset_ref(self) -> str:
        """What load_dataset takes: "sample:<name>" or the data set's id."""
        return f"sample:{self.sample}" if self.sample else str(self.dataset_id)

    @property
    def chunks(self) -> int:
        return -(-self.combinations // self.chunk_size)


class SweepResult(models.Model):
    """One combination's figures (trading.sweep: Combination.as_json() | Figures.as_json(), exact decimal strings),
    written once per combination (unique), by the chunk that ran it on the worker named."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField(help_text="The combination's place in the grid.")
    chunk = models.PositiveIntegerField()
    worker = models.CharField(max_length=200, blank=True, default="")
    figures = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sweep", "index"]
        constraints = [models.UniqueConstraint(fields=["sweep", "index"], name="sweep_result_unique")]

    def __str__(self) -> str:
        return f"combination {self.index} of sweep {self.sweep_id}"

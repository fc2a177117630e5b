"""Backtest data sets and backtests (registered through trading.models, so they belong to the trading app).

A data set's candles and a finished backtest's fills and lots are stored as zlib-compressed chunks of at most
CHUNK_BYTES each (trading.backtests.blobs): MariaDB refuses any packet over its max_allowed_packet (16 MB by
default, sometimes 4 MB), and a year of 1-minute candles is about 40 MB of text.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trading.backtests.states import BacktestStatus, DatasetSource, DatasetStatus
from trading.choices import choices_of

ACTIVE_BACKTEST_STATUSES = (BacktestStatus.QUEUED.value, BacktestStatus.RUNNING.value)


class BacktestDataset(models.Model):
    """Candles a user uploaded or downloaded, for backtests. The candles themselves are in DatasetChunk rows."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_datasets")
    name = models.CharField(max_length=200)
    source = models.CharField(
        max_length=10, choices=choices_of(DatasetSource), default=DatasetSource.UPLOAD.value, editable=False
    )
    symbol = models.CharField(max_length=41, blank=True, default="", help_text="The market, when known.")
    interval_seconds = models.PositiveIntegerField(default=0, help_text="The candles' usual spacing.")
    start = models.DateTimeField(null=True, blank=True, help_text="The first candle's open time.")
    end = models.DateTimeField(null=True, blank=True, help_text="The last candle's open time.")
    candles = models.PositiveIntegerField(default=0)
    gaps = models.PositiveIntegerField(default=0, help_text="Stretches without candles longer than the interval.")
    size_bytes = models.PositiveBigIntegerField(default=0, help_text="The candles as uploaded (or downloaded).")
    stored_bytes = models.PositiveBigIntegerField(default=0, help_text="The candles as stored (compressed).")
    content_hash = models.CharField(
        max_length=64, blank=True, default="", db_index=True, help_text="SHA-256 of the stored candle text."
    )
    status = models.CharField(max_length=12, choices=choices_of(DatasetStatus), default=DatasetStatus.READY.value)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Downloads: what was asked for (exchange, symbol, timeframe, since, until).
    request = models.JSONField(default=dict, blank=True)
    # Downloads: the exchange's rules for the symbol (exchanges.markets.rules_as_dict), which its backtests trade
    # by; NULL for uploads, which trade by the shipped Binance rules.
    market_rules = models.JSONField(null=True, blank=True)
    # Downloads: the RQ job that should download it; a job that is not this one stops (trading.backtests.rescue).
    job_id = models.CharField(max_length=100, blank=True, default="")
    requeued = models.PositiveSmallIntegerField(default=0, help_text="Times queued again after its job was lost.")
    requeued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.candles} candles)"

    @property
    def ref(self) -> str:
        return str(self.pk)


class DatasetChunk(models.Model):
    """Part of a data set's candle text ("ms,open,high,low,close,volume" lines), zlib-compressed."""

    dataset = models.ForeignKey(BacktestDataset, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "index"], name="dataset_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of data set {self.dataset_id}"


class Backtest(models.Model):
    """One run of the grid engine over a data set: what was asked (parameters, options, data set) and, once done,
    what it did (summary, equity curve, gaps here; fills and lots in BacktestChunk rows)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests")
    # The strategy the parameters were taken from, if any (a string reference: trading never imports strategies).
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="backtests"
    )
    # symbol and every grid/risk parameter, resolved and validated (strategies.backtesting.resolve_parameters):
    # numbers as decimal strings, EngineConfig's field names (trading.backtests.params.engine_config).
    parameters = models.JSONField()
    # A user's data set, or a shipped sample by name (dataset NULL): exactly one of the two.
    dataset = models.ForeignKey(
        BacktestDataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="backtests"
    )
    sample = models.CharField(max_length=100, blank=True, default="", help_text="A shipped data set's name.")
    # The data set as it was when the backtest was made (id, name, symbol, start, end, candles): still shown after
    # the data set is deleted.
    dataset_info = models.JSONField(default=dict)
    options = models.JSONField(default=dict, help_text="initial_quote, initial_base, slippage_pct, fees …")
    status = models.CharField(
        max_length=10, choices=choices_of(BacktestStatus), default=BacktestStatus.QUEUED.value, db_index=True
    )
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every progress update: a running backtest whose worker died stops being updated.
    updated_at = models.DateTimeField(null=True, blank=True)
    job_id = models.CharField(max_length=100, blank=True, default="")
    requeued = models.PositiveSmallIntegerField(default=0, help_text="Times queued again after its job was lost.")
    requeued_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    summary = models.JSONField(null=True, blank=True)
    equity_curve = models.JSONField(null=True, blank=True)
    gaps = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="backtest_owner_created_idx")]

    def __str__(self) -> str:
        return f"backtest {self.pk} ({self.status})"

    @property
    def dataset_ref(self) -> str:
        """What load_dataset takes: "sample:<name>" or the data set's id."""
        return f"sample:{self.sample}" if self.sample else str(self.dataset_id)


class BacktestChunk(models.Model):
    """Part of a finished backtest's fills or lots (compact JSON rows), zlib-compressed."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="chunks")
    kind = models.CharField(max_length=12)  # "fills", "positions"
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["backtest", "kind", "index"], name="backtest_chunk_unique")]

    def __str__(self) -> str:
        return f"{self.kind} chunk {self.index} of backtest {self.backtest_id}"

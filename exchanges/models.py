"""The paper exchange's books in the database, so that a restart or another worker continues from the same book.

No foreign key to accounts: the arrows point accounts → trading → exchanges, so a book is named by a key
("account:{id}") instead. One row per paper account is locked (SELECT … FOR UPDATE) for each operation.
"""

from __future__ import annotations

from django.db import models

MONEY_DIGITS, MONEY_PLACES = 40, 18


class PaperBookRecord(models.Model):
    key = models.CharField(max_length=100, unique=True, help_text='Whose book, e.g. "account:12".')
    balances = models.JSONField(default=dict, help_text='{"USDT": {"free": "…", "locked": "…"}}')
    matched_until = models.JSONField(default=dict, help_text="symbol → ISO time up to which orders were matched")
    feeds = models.JSONField(default=dict, help_text="symbol → price feed spec, shared by every process")
    next_seq = models.PositiveBigIntegerField(default=1)
    version = models.PositiveBigIntegerField(
        default=0,
        help_text="Raised by every write of the balances or orders: a process whose copy of the book has this "
        "version may answer reads from it without loading or locking the book.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "paper book"

    def __str__(self) -> str:
        return self.key


class PaperOrderRecord(models.Model):
    book = models.ForeignKey(PaperBookRecord, on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=36)
    exchange_order_id = models.CharField(max_length=40)
    symbol = models.CharField(max_length=41)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=6)
    price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    filled = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    cost = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    fee = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    fee_currency = models.CharField(max_length=20, blank=True, default="")
    locked = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    status = models.CharField(max_length=16)
    trades = models.JSONField(default=list)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "paper order"
        constraints = [
            models.UniqueConstraint(fields=["book", "client_order_id"], name="paper_order_client_id_unique"),
        ]
        indexes = [
            models.Index(fields=["book", "status"], name="paper_order_book_status_idx"),
            models.Index(fields=["book", "exchange_order_id"], name="paper_order_book_exid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.amount} {self.symbol} @ {self.price}"

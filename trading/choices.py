from django.db import models


class OrderSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    LIMIT = "limit", "Limit"
    MARKET = "market", "Market"


class OrderRole(models.TextChoices):
    GRID_BUY = "grid_buy", "Grid buy"
    TAKE_PROFIT = "take_profit", "Take profit"
    STOP_LOSS = "stop_loss", "Stop loss"
    TIME_STOP = "time_stop", "Time stop"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # written, not yet acknowledged by the exchange
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELED = "canceled", "Canceled"
    REJECTED = "rejected", "Rejected"
    LOST = "lost", "Lost"  # written before sending, and the exchange never received it


ACTIVE_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class ExitReason(models.TextChoices):
    TAKE_PROFIT = "take_profit", "Take profit"
    STOP_LOSS = "stop_loss", "Stop loss"
    TIME_STOP = "time_stop", "Time stop"
    MANUAL = "manual", "Manual"

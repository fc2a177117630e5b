from decimal import Decimal

from django.db import migrations, models

QUANTUM = Decimal("1e-18")


def totals_from_fills(apps, schema_editor):
    """Until now the engine resumed from totals summed over the fills; from here on it trusts the order's stored
    totals, so they are made exactly what it used to sum (and `cost` is filled in)."""
    Order = apps.get_model("trading", "Order")
    Fill = apps.get_model("trading", "Fill")
    totals = {}
    rows = Fill.objects.order_by("order_id", "executed_at", "id").values_list(
        "order_id", "price", "amount", "fee", "fee_currency"
    )
    for order_id, price, amount, fee, fee_currency in rows.iterator(chunk_size=2000):
        filled, cost, fees, _ = totals.get(order_id, (Decimal(0), Decimal(0), Decimal(0), ""))
        totals[order_id] = (filled + amount, cost + price * amount, fees + fee, fee_currency)
    for order_id, (filled, cost, fee, fee_currency) in totals.items():
        Order.objects.filter(pk=order_id).update(
            filled=filled,
            cost=cost,
            average_price=(cost / filled).quantize(QUANTUM) if filled else None,
            fee=fee,
            fee_currency=fee_currency,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0002_order_parent_position_entry_cost_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="cost",
            field=models.DecimalField(
                decimal_places=18,
                default=0,
                help_text="Quote value of its fills (Σ price × amount); the average price is this over filled, rounded.",
                max_digits=40,
            ),
        ),
        migrations.RunPython(totals_from_fills, migrations.RunPython.noop),
    ]

"""Any CCXT exchange, Binance first: client, orders, pre-send limits, errors, verify, live feed, rate limiter."""

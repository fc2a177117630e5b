"""Backtests as the web app runs them: data sets stored in the database, runs queued on the `backtests` queue.

The pure backtester is trading/backtest.py; this package keeps its inputs and outputs in the database (so a worker on
any node can run any backtest: nodes share only the database and Redis) and runs it as an RQ job.
"""

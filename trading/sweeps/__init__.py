"""Parameter sweeps as the web app runs them: a Sweep row, its combinations split into chunks that RQ workers of
every node serving the `backtests` queue run (jobs.py), and each combination's figures as a SweepResult row.

The pure part (the grid, a chunk's runs, the ranking) is trading/sweep.py.
"""

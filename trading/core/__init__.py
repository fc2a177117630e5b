"""The pure trading core: grid, risk, positions, engine, reconcile. No Django, no Redis, no I/O of its own."""

"""Running engines on RQ + Redis: leases and status hashes, the runner, jobs, workers, and building an engine."""

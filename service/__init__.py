"""forkwise.service: turns facts into guidance (classifier, writers) and serves it (CLI, reports)."""

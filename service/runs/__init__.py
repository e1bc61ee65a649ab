"""Runs: how a summarize happens and where it is kept.

The use cases every surface calls (:mod:`.usecases`), the pipeline that builds, stores and indexes a report
(:mod:`.pipeline`), background jobs in threads (:mod:`.jobs`) or on Celery workers (:mod:`.queue`), and the store
(:mod:`.store` over :mod:`.db`, SQLite or PostgreSQL, with Alembic migrations in ``migrations/``).
"""

"""Runs: how a summarize happens and where it is kept.

The use cases every surface calls (:mod:`.usecases`), the one run engine that plans, analyses, assembles, stores
and indexes a report (:mod:`.engine`), run in threads (:mod:`.jobs`) or on Celery workers (:mod:`.queue`), the
store of runs (:mod:`.store` over :mod:`.db`, SQLite or PostgreSQL, with Alembic migrations in ``migrations/``) and
what the vector index holds of them (:mod:`.vectors`).
"""

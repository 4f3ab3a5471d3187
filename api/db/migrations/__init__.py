"""Alembic migrations of the wangge schema (run them with :mod:`api.db.migrate`)."""

"""Alembic environment: runs on the connection given by :mod:`api.db.migrate` (or, from the
``alembic`` command line, on ``sqlalchemy.url`` / the configured database)."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from api.db.migrate import include_object
from api.db.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_item=alembic_helpers.render_item,
        process_revision_directives=alembic_helpers.writer,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line
    from api.db.engine import _init_spatial_metadata, make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    _init_spatial_metadata(engine)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()

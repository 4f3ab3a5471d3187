"""Alembic migrations on SpatiaLite and PostGIS: the schema they build equals the models,
with a spatial index on every geometry column; down to base and up again; legacy refusal."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import Geometry

from api.db.dialect import spatial_indexes
from api.db.engine import UnmigratedDatabaseError, init_db, make_engine
from api.db.migrate import (
    current_revision,
    downgrade,
    head_revision,
    include_object,
    schema_differences,
    upgrade,
)
from api.db.models import APPEND_ONLY_TABLES, Base
from api.db.revisions import at_head, script_head

GEOMETRY_COLUMNS = {
    (t.name, c.name)
    for t in Base.metadata.tables.values()
    for c in t.columns
    if isinstance(c.type, Geometry)
}


@pytest.fixture
def fresh_engine(fresh_db_url):
    """An engine on an empty database of its own."""
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _our_tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) & set(Base.metadata.tables)


def _registered_geometry_columns(engine) -> set[tuple[str, str]]:
    """Geometry columns the spatial extension knows about (SpatiaLite / PostGIS catalogue)."""
    sql = "SELECT f_table_name, f_geometry_column FROM geometry_columns"
    if engine.dialect.name != "sqlite":
        sql += " WHERE f_table_schema = ANY(current_schemas(false))"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(sql).all()
    return {(str(t).lower(), str(c).lower()) for t, c in rows}


def test_upgrade_builds_the_models_schema_with_spatial_indexes(fresh_engine):
    assert current_revision(fresh_engine) is None
    init_db(fresh_engine)
    assert current_revision(fresh_engine) == head_revision() == "0014_change_counters"
    assert _our_tables(fresh_engine) == set(Base.metadata.tables)
    assert schema_differences(fresh_engine) == []
    with fresh_engine.connect() as conn:
        assert spatial_indexes(conn) >= GEOMETRY_COLUMNS
    assert _registered_geometry_columns(fresh_engine) >= GEOMETRY_COLUMNS
    assert len(GEOMETRY_COLUMNS) == 5  # communities, grids, incidents; houses point + footprint


def test_the_comparison_would_see_a_difference(fresh_engine):
    """schema_differences() == [] means something: a changed model is reported."""
    init_db(fresh_engine)
    changed = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["residents"].append_column(sa.Column("shoe_size", sa.Integer))
    sa.Table("extra_things", changed, sa.Column("id", sa.Integer, primary_key=True))
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        diffs = compare_metadata(context, changed)
    kinds = {(d[0], getattr(d[1], "name", None) if d[0] == "add_table" else d[3].name)
             for d in diffs if d[0] in {"add_table", "add_column"}}  # fmt: skip
    assert kinds == {("add_table", "extra_things"), ("add_column", "shoe_size")}


def test_downgrade_to_base_and_upgrade_again(fresh_engine):
    init_db(fresh_engine)
    downgrade(fresh_engine, "base")
    assert current_revision(fresh_engine) is None
    assert _our_tables(fresh_engine) == set()
    assert not (_registered_geometry_columns(fresh_engine) & GEOMETRY_COLUMNS)
    upgrade(fresh_engine, "0001_spatial_base")
    assert current_revision(fresh_engine) == "0001_spatial_base"
    assert "residents" not in _our_tables(fresh_engine)
    assert "grids" in _our_tables(fresh_engine)
    upgrade(fresh_engine)
    assert schema_differences(fresh_engine) == []
    with fresh_engine.connect() as conn:
        assert spatial_indexes(conn) >= GEOMETRY_COLUMNS
    # the append-only triggers came back too
    with fresh_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO audit_log (at, action) VALUES ('2026-01-01', 'read')")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), fresh_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")


def test_init_db_is_idempotent(fresh_engine):
    init_db(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO streets (code, name) VALUES ('310101002', '外滩街道')")
    init_db(fresh_engine)
    with fresh_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM streets").scalar() == 1
    assert schema_differences(fresh_engine) == []


def test_head_is_known_without_alembic_and_only_at_head(fresh_engine):
    """at_head (the start-up check that spares loading Alembic) agrees with Alembic: the
    scripts' head is Alembic's, a database one revision behind is not at head and is
    upgraded by init_db."""
    assert script_head() == head_revision()
    with fresh_engine.connect() as conn:
        assert not at_head(conn)  # no alembic_version table yet
    init_db(fresh_engine)
    with fresh_engine.connect() as conn:
        assert at_head(conn)
    downgrade(fresh_engine, "-1")
    with fresh_engine.connect() as conn:
        assert not at_head(conn)
    init_db(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()
    assert schema_differences(fresh_engine) == []


def _scripts(folder, chain: dict[str, str | None]) -> None:
    folder.mkdir()
    for rev, down in chain.items():
        (folder / f"{rev}.py").write_text(
            f'"""{rev}"""\nrevision = "{rev}"\ndown_revision = {down!r}\n', encoding="utf-8"
        )


def test_script_head_answers_only_a_plain_single_head(tmp_path):
    _scripts(tmp_path / "chain", {"a1": None, "b2": "a1", "c3": "b2"})
    assert script_head.__wrapped__(tmp_path / "chain") == "c3"
    _scripts(tmp_path / "two_heads", {"a1": None, "b2": "a1", "c3": "a1"})
    assert script_head.__wrapped__(tmp_path / "two_heads") is None
    _scripts(tmp_path / "merged", {"a1": None, "b2": "a1", "c3": "a1", "d4": ("b2", "c3")})
    assert script_head.__wrapped__(tmp_path / "merged") == "d4"
    _scripts(tmp_path / "odd", {"a1": None})
    (tmp_path / "odd" / "b2.py").write_text("revision = make_name()\n", encoding="utf-8")
    assert script_head.__wrapped__(tmp_path / "odd") is None


def test_a_database_made_before_migrations_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE communities (id INTEGER PRIMARY KEY, code TEXT)")
    with pytest.raises(UnmigratedDatabaseError, match="alembic_version"):
        init_db(engine)
    engine.dispose()


def test_append_only_tables_are_the_logs():
    assert set(APPEND_ONLY_TABLES) == {"audit_log", "change_log"}


def test_categories_added_later_reach_a_database_made_before_them(fresh_engine):
    """A database at 0005 without the later rows (as one made before them) gets them from
    0006 with the code table's severity, post and public flag; downgrading removes them."""
    import csv

    from api.core.config import get_settings

    path = get_settings().data_dir / "codes" / "incident_categories.csv"
    with path.open(encoding="utf-8-sig") as fh:
        table = {r["code"]: r for r in csv.DictReader(fh)}
    new = ("0103", "0104", "0403", "0609")
    assert set(new) <= set(table)
    init_db(fresh_engine)  # spatial metadata, as every real database has
    downgrade(fresh_engine, "0005_routing")
    with fresh_engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM incident_categories WHERE code IN ('0103','0104','0403','0609')")
        )
    upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        rows = {
            r.code: r
            for r in conn.execute(
                sa.text(
                    "SELECT code, name_zh, severity, post, public FROM incident_categories"
                    " WHERE code IN ('0103','0104','0403','0609')"
                )
            )
        }
    assert set(rows) == set(new)
    for code in new:
        assert rows[code].name_zh == table[code]["name_zh"]
        assert rows[code].severity == table[code]["severity"]
        assert rows[code].post == table[code]["post"]
        assert bool(rows[code].public) is False
    downgrade(fresh_engine, "0005_routing")
    with fresh_engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM incident_categories WHERE code IN ('0403','0609')")
        ).scalar()
    assert left == 0

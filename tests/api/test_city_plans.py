"""PostGIS at city scale: the plans of reassigning stored houses and of the statistics query.

Enough rows are planted (1,600 grids, 20,000 houses, 50,000 incidents over a year,
``ANALYZE`` run) that the planner picks indexes on its own: no ``enable_seqscan = off``.
The statements are the ones the code sends (captured as it runs), explained with their
parameters; the assertions are on the plan JSON. Answers are checked against truth computed
here too, so a plan that uses an index but answers wrongly still fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from api.db.dialect import assign_codes_in_db
from api.db.engine import open_database
from api.services.incidents.stats import statistics_table
from api.services.registry.reassign import reassign_houses
from bench.city import CELL_DEG, ORIGIN, captured_statements, index_names, plan, plant_city
from tests.conftest import postgis_database

SIDE, HOUSES, INCIDENTS = 40, 20_000, 50_000
DAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def city(postgres_url) -> Iterator[sa.Engine]:
    with postgis_database(postgres_url, prefix="city") as url:
        engine = open_database(url)
        with engine.begin() as conn:
            plant_city(conn, side=SIDE, houses=HOUSES, incidents=INCIDENTS)
        try:
            yield engine
        finally:
            engine.dispose()


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_reassigning_stored_houses_probes_the_gist_index_per_house(city):
    with city.connect() as conn, captured_statements(city) as seen:
        with sa.orm.Session(bind=conn) as session:
            counts = assign_codes_in_db(session, "houses", on=DAY)
            session.commit()
        [update] = [s for s in seen if s[0].lstrip().upper().startswith("UPDATE")]
        tree = plan(conn, *update)
        # the truth, from the lattice's arithmetic (a point on a shared edge goes to the
        # smallest code; random() points land on an edge with probability ~0)
        x0, y0 = ORIGIN
        wrong = conn.execute(
            sa.text(
                "SELECT count(*) FROM houses WHERE grid_code IS DISTINCT FROM 'G' || lpad(("
                "floor((ST_Y(geom) - :y0) / :d)::int * :n + floor((ST_X(geom) - :x0) / :d)::int"
                ")::text, 7, '0')"
            ),
            {"x0": x0, "y0": y0, "d": CELL_DEG, "n": SIDE},
        ).scalar_one()
    assert counts.assigned == HOUSES and counts.outside == 0
    assert wrong == 0
    assert "idx_grids_geom" in index_names(tree)
    # the probe sits under the subquery run per house, and no node reads grids sequentially
    assert not [n for n in _nodes(tree) if n["Node Type"] == "Seq Scan"
                and n.get("Relation Name") == "grids"]  # fmt: skip


def test_a_division_load_reassigns_stored_houses_through_the_gist_index(city):
    """``reassign_houses`` (what loading a division runs) computes the codes in the database:
    its SELECT probes the GiST index on grids.geom per house; the answers match the lattice."""
    community = city_ids(city)["community"]
    with (
        city.connect() as conn,
        captured_statements(city) as seen,
        sa.orm.Session(bind=conn) as session,
    ):
        result = reassign_houses(session, community, DAY)
        [create] = [s for s in seen if s[0].lstrip().upper().startswith("CREATE TEMP")]
        select = create[0][create[0].upper().index(" AS SELECT ") + 4 :]
        tree = plan(conn, select, create[1])
        x0, y0 = ORIGIN
        wrong = conn.execute(
            sa.text(
                "SELECT count(*) FROM houses WHERE grid_code IS DISTINCT FROM 'G' || lpad(("
                "floor((ST_Y(geom) - :y0) / :d)::int * :n + floor((ST_X(geom) - :x0) / :d)"
                "::int)::text, 7, '0')"
            ),
            {"x0": x0, "y0": y0, "d": CELL_DEG, "n": SIDE},
        ).scalar_one()
        session.rollback()
    assert result.outside == 0 and result.unchanged + len(result.changed) == HOUSES
    assert wrong == 0
    assert "idx_grids_geom" in index_names(tree)
    assert not [n for n in _nodes(tree) if n["Node Type"] == "Seq Scan"
                and n.get("Relation Name") == "grids"]  # fmt: skip


def city_ids(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            "community": conn.execute(
                sa.text("SELECT id FROM communities WHERE code = '310101099001'")
            ).scalar_one()
        }


def test_the_statistics_of_a_week_read_the_reported_at_index(city):
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=7)
    with sa.orm.Session(city) as session, captured_statements(city) as seen:
        rows = statistics_table(session, viewer=None, by=("category",), start=start, end=end)
        [select] = [s for s in seen if "FROM incidents" in s[0]]
        tree = plan(session.connection(), *select)
        truth = dict(
            session.execute(
                sa.text("SELECT category_code, count(*) FROM incidents WHERE reported_at >= :a "
                        "AND reported_at < :b GROUP BY category_code"),
                {"a": start, "b": end},
            ).all()
        )  # fmt: skip
    assert {r["category_code"]: r["count"] for r in rows} == truth
    assert sum(truth.values()) < INCIDENTS / 20  # a selective window, as the test intends
    assert "ix_incidents_reported_at" in index_names(tree)
    assert not [n for n in _nodes(tree) if n["Node Type"] == "Seq Scan"]

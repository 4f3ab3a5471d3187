"""PostGIS at city scale: reassigning stored houses and the incident statistics queries.

``python -m bench.city [--houses N] [--side S] [--incidents M] [--url URL]`` plants, with
``generate_series`` in the database, one community whose division is an ``S``×``S`` lattice
of square grids, ``N`` houses at random points and ``M`` incidents over a year, then times:

* ``assign_codes_in_db`` (one ``UPDATE … SET grid_code = (covering grid)``, the GiST index on
  ``grids.geom`` per house) for every stored house, after a new division is put in effect;
* ``reassign_houses`` (what loading a division runs: the new codes computed in the database
  into a temporary table, a change-log row per changed house, one ``UPDATE … FROM`` of the
  changed rows) on the same houses, with the peak RSS of this (client) process;
* ``statistics_table`` for one week and for the whole year.

Without ``--url`` a throw-away PostGIS cluster is started (:mod:`bench.pg`). The plan of each
query (``EXPLAIN (FORMAT JSON)``, the statements captured as the code runs them) is printed
with the indexes it uses; ``tests/api/test_city_plans.py`` asserts on those plans.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

__all__ = ["CELL_DEG", "ORIGIN", "captured_statements", "index_names", "main", "plan", "plant_city"]

ORIGIN = (121.40, 31.20)  # lon, lat of the lattice's south-west corner (storage CRS)
CELL_DEG = 0.001  # side of one square grid, about 95 m × 111 m there
DIVISION_LABEL = "city-v1"


def plant_city(conn: sa.Connection, *, side: int, houses: int, incidents: int) -> dict[str, int]:
    """Plant one community, a division of ``side``×``side`` square grids (in effect from
    2026-01-01), ``houses`` houses uniformly over it and ``incidents`` incidents spread over
    2026 (PostgreSQL only; deterministic: ``setseed``). Returns the ids; runs ``ANALYZE``."""
    from api.db.models import STORAGE_SRID

    conn.execute(sa.text("SELECT setseed(0.22)"))
    street = conn.execute(
        sa.text("INSERT INTO streets (code, name) VALUES ('310101099', '城区街道') RETURNING id")
    ).scalar_one()
    community = conn.execute(
        sa.text("INSERT INTO communities (code, name, street_id) "
                "VALUES ('310101099001', '城区社区', :s) RETURNING id"),
        {"s": street},
    ).scalar_one()  # fmt: skip
    division = conn.execute(
        sa.text("INSERT INTO divisions (community_id, label, version, effective_from, created_at)"
                " VALUES (:c, :label, 1, DATE '2026-01-01', now()) RETURNING id"),
        {"c": community, "label": DIVISION_LABEL},
    ).scalar_one()  # fmt: skip
    x0, y0 = ORIGIN
    geo = {"c": community, "srid": STORAGE_SRID, "x0": x0, "y0": y0, "d": CELL_DEG, "n": side}
    conn.execute(
        sa.text(
            "INSERT INTO grids (community_id, division_id, division, code, name, geom) "
            "SELECT :c, :division, :label, 'G' || lpad(i::text, 7, '0'), '网格' || i, "
            "ST_Multi(ST_MakeEnvelope(:x0 + (i % :n) * :d, :y0 + (i / :n) * :d, "
            ":x0 + (i % :n + 1) * :d, :y0 + (i / :n + 1) * :d, :srid)) "
            "FROM generate_series(0, :n * :n - 1) AS i"
        ),
        geo | {"division": division, "label": DIVISION_LABEL},
    )
    conn.execute(
        sa.text(
            "INSERT INTO houses (community_id, address, geom) "
            "SELECT :c, '城区路' || i || '号', ST_SetSRID(ST_MakePoint("
            ":x0 + random() * :n * :d, :y0 + random() * :n * :d), :srid) "
            "FROM generate_series(1, :houses) AS i"
        ),
        geo | {"houses": houses},
    )
    conn.execute(
        sa.text(
            "INSERT INTO incidents (community_id, category_code, reported_at, geom, grid_code, "
            "state, severity, due_at, resolved_at, version) "
            "SELECT :c, (ARRAY['0101','0102','0201','0301'])[1 + i % 4], t, "
            "ST_SetSRID(ST_MakePoint(:x0 + random() * :n * :d, :y0 + random() * :n * :d), "
            ":srid), 'G' || lpad((i % (:n * :n))::text, 7, '0'), "
            "CASE WHEN i % 3 = 0 THEN 'registered' ELSE 'resolved' END, 'general', "
            "t + interval '3 days', CASE WHEN i % 3 = 0 THEN NULL "
            "ELSE t + (random() * 5) * interval '1 day' END, 1 "
            "FROM (SELECT i, TIMESTAMPTZ '2026-01-01 00:00+00' "
            "+ (i::float8 / :m) * interval '365 days' AS t "
            "FROM generate_series(1, :m) AS i) AS s"
        ),
        geo | {"m": incidents},
    )
    for table in ("grids", "houses", "incidents", "divisions"):
        conn.exec_driver_sql(f"ANALYZE {table}")
    return {"community": community, "division": division}


@contextmanager
def captured_statements(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """Collect ``(statement, parameters)`` of every statement ``engine`` sends while open."""
    seen: list[tuple[str, Any]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def plan(conn: sa.Connection, statement: str, parameters: Any) -> dict:
    """The planner's plan (``EXPLAIN (FORMAT JSON)``, not executed) of a captured statement."""
    rows = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
    found = rows if isinstance(rows, list) else json.loads(rows)
    return found[0]["Plan"]


def index_names(node: dict) -> set[str]:
    """Every index a plan (sub)tree scans."""
    names = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        names |= index_names(child)
    return names


def _status_mib(field: str) -> float:
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def run(url: str, *, side: int, houses: int, incidents: int) -> dict[str, Any]:
    """Plant the city in the (empty, migrated on open) database at ``url`` and time the work."""
    from api.db.dialect import assign_codes_in_db
    from api.db.engine import open_database
    from api.services.incidents.stats import statistics_table
    from api.services.registry.reassign import reassign_houses

    engine = open_database(url)
    out: dict[str, Any] = {"grids": side * side, "houses": houses, "incidents": incidents}
    try:
        with engine.begin() as conn:
            ids, out["plant_s"] = _timed(
                lambda: plant_city(conn, side=side, houses=houses, incidents=incidents)
            )
        day = dt.date(2026, 6, 1)
        # a division load first (every house changes: none has a code yet), rolled back
        rss_before = _status_mib("VmHWM")
        with (
            engine.connect() as conn,
            captured_statements(engine) as seen,
            sa.orm.Session(bind=conn) as session,
        ):
            result, out["reassign_houses_s"] = _timed(
                lambda: reassign_houses(session, ids["community"], day)
            )
            create = next(s for s in seen if s[0].lstrip().upper().startswith("CREATE TEMP"))
            select = create[0][create[0].upper().index(" AS SELECT ") + 4 :]
            out["reassign_houses_indexes"] = sorted(index_names(plan(conn, select, create[1])))
            session.rollback()
        out["reassign_changed"] = len(result.changed)
        out["reassign_peak_rss_mib"] = _status_mib("VmHWM")
        out["rss_before_reassign_mib"] = rss_before
        del result
        with engine.connect() as conn, captured_statements(engine) as seen:
            with sa.orm.Session(bind=conn) as session:
                counts, out["assign_in_db_s"] = _timed(
                    lambda: assign_codes_in_db(session, "houses", on=day)
                )
                session.commit()
            update = next(s for s in seen if s[0].lstrip().upper().startswith("UPDATE"))
            out["assigned"], out["outside"] = counts
            out["assign_in_db_indexes"] = sorted(index_names(plan(conn, *update)))
        week = (dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 6, 8, tzinfo=dt.UTC))
        year = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        for name, (start, end) in {"week": week, "year": year}.items():
            with sa.orm.Session(engine) as session, captured_statements(engine) as seen:
                rows, out[f"stats_{name}_s"] = _timed(
                    lambda s=session, a=start, b=end: statistics_table(
                        s, viewer=None, by=("grid",), start=a, end=b
                    )
                )
                select = next(s for s in seen if "FROM incidents" in s[0])
                out[f"stats_{name}_groups"] = len(rows)
                out[f"stats_{name}_indexes"] = sorted(
                    index_names(plan(session.connection(), *select))
                )
    finally:
        engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.city", description=__doc__)
    parser.add_argument("--houses", type=int, default=1_000_000)
    parser.add_argument("--side", type=int, default=100, help="grids per side (100: 10k grids)")
    parser.add_argument("--incidents", type=int, default=500_000)
    parser.add_argument("--url", help="an empty PostGIS database (default: a throw-away one)")
    args = parser.parse_args(argv)
    sizes = {"side": args.side, "houses": args.houses, "incidents": args.incidents}
    if args.url:
        out = run(args.url, **sizes)
    else:
        from bench.pg import ThrowawayPostgres

        pg = ThrowawayPostgres(dbname="wangge_city").start()
        try:
            out = run(pg.url, **sizes)
        finally:
            pg.stop()
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``--dry-run`` on every writing command, on both databases.

Each test runs a command with ``--dry-run`` and checks three things: the report says what the
real run writes (counts worked out here from the inputs, not taken from the command), the
database holds exactly the rows it held before (every row of every table compared) and no
file appeared; then the same command runs for real and writes what the dry run said, table by
table and file by file. A last test walks the registered commands: each one is either a
writing command with ``--dry-run`` or named read-only, in ``api.cli.options``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.cli.options import READ_ONLY_COMMANDS, WRITING_COMMANDS
from api.core.crypto import Keyring, parse_data_key, reset_keyring, set_keyring
from api.db.engine import make_engine, open_database
from api.db.models import Base
from api.services.demo import load_demo
from tests.api.routes.conftest import ROLE_USERS, _module_database, add_users
from tests.api.test_import import write_csv

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
COMMUNITY = "310101002005"
runner = CliRunner()


# --------------------------------------------------------------------------- what is stored


def _sqlite_path(url: str) -> Path | None:
    return Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every table as stored (no type processing: sealed values stay sealed,
    geometry as stored), ordered by primary key; {} when the database has no tables (a
    SpatiaLite file that does not exist is not created)."""
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        return {}
    engine = make_engine(url)
    rows: dict[str, list[tuple]] = {}
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            for table in Base.metadata.sorted_tables:
                if table.name not in present:
                    continue
                columns = [sa.type_coerce(c, sa.types.NullType()) for c in table.columns]
                order = list(table.primary_key.columns) or list(table.columns)
                query = sa.select(*columns).select_from(table).order_by(*order)
                rows[table.name] = [
                    tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                    for row in conn.execute(query)
                ]
            if "alembic_version" in present:
                rows["alembic_version"] = conn.exec_driver_sql(
                    "SELECT version_num FROM alembic_version"
                ).all()
    finally:
        engine.dispose()
    return rows


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _grown(before: dict, after: dict) -> dict[str, int]:
    names = set(before) | set(after)
    grown = {n: len(after.get(n, [])) - len(before.get(n, [])) for n in names}
    return {n: g for n, g in grown.items() if g}


def _net(report: dict) -> dict[str, int]:
    tables = report["tables"]
    net = {n: t["inserted"] - t["deleted"] for n, t in tables.items()}
    return {n: g for n, g in net.items() if g}


def _said(text: str) -> str:
    return " ".join(text.split())


def _text_report(output: str) -> dict:
    """The would-write lines of a command without --json, as the JSON report would have it."""
    said = _said(output)
    assert "DRY RUN: nothing was written" in said, output
    tables = {
        m[0]: {"inserted": int(m[1]), "updated": int(m[2]), "deleted": int(m[3])}
        for m in re.findall(
            r"would write (\w+): 新增 / insert (\d+), 修改 / update (\d+), 删除 / delete (\d+)",
            said,
        )
    }
    files = [{"path": m} for m in re.findall(r"would (?:write|replace) (\S+) \([\d,]+ B\)", said)]
    return {"tables": tables, "files": files}


def dry_then_real(
    url: str | None,
    args: list,
    *,
    folder: Path,
    code: int | None = 0,
    as_json: bool = True,
    stdin: str | None = None,
) -> tuple[dict, dict | None]:
    """Run ``args`` with --dry-run, check nothing changed, run it for real, check it wrote what
    the dry run said. Returns the dry run's report and the real run's JSON (if any).

    ``code`` is the exit code both runs must give (None: 0 or 1, the same in both)."""
    args = [str(a) for a in args]
    extra = ["--json"] if as_json else []
    before = dump(url) if url else {}
    files_before = files_under(folder)
    dry = runner.invoke(cli_app, [*args, "--dry-run", *extra], input=stdin)
    if code is None:
        code = dry.exit_code if dry.exit_code in (0, 1) else 0
    assert dry.exit_code == code, dry.output
    if as_json:
        payload = json.loads(dry.stdout)
        assert payload["dry_run"] is True
        report = payload["would_write"]
    else:
        payload, report = None, _text_report(dry.stdout)
    if url:
        assert dump(url) == before, "the dry run changed the database"
    assert files_under(folder) == files_before, "the dry run wrote files"

    real = runner.invoke(cli_app, [*args, *extra], input=stdin)
    assert real.exit_code == code, real.output
    assert "DRY RUN" not in real.stdout
    if url:
        after = dump(url)
        assert _grown(before, after) == _net(report), "the real run wrote other counts"
        changed = {n for n in after if after[n] != before.get(n)}
        assert changed <= set(report["tables"]), changed - set(report["tables"])
    for f in report["files"]:
        assert Path(f["path"]).exists(), f["path"]
    made = set(files_under(folder)) - set(files_before)
    assert made <= {f["path"] for f in report["files"]} | {str(folder / ".")}, made
    result = json.loads(real.stdout) if as_json else None
    return report, result


def _inserted(report: dict) -> dict[str, int]:
    return {n: t["inserted"] for n, t in report["tables"].items() if t["inserted"]}


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="module")
def demo_url(db_url, tmp_path_factory):
    """The demo community (with one user per role) in a database of this module, per engine.
    The real runs add to it; every test uses names of its own."""
    gen = _module_database(db_url, tmp_path_factory)
    url = next(gen)
    load_demo(db_url=url)
    add_users(url, ROLE_USERS)
    yield url
    next(gen, None)


@pytest.fixture
def migrated_url(fresh_db_url) -> str:
    """A new database with the schema and nothing else."""
    open_database(fresh_db_url).dispose()
    return fresh_db_url


def _count(url: str, sql: str, **params) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the list


def _commands(group, prefix=()) -> dict[str, object]:
    found = {}
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "commands", None) is not None:
            found |= _commands(command, (*prefix, name))
        else:
            found[" ".join((*prefix, name))] = command
    return found


def test_every_command_is_writing_with_a_dry_run_or_declared_read_only():
    import typer

    commands = _commands(typer.main.get_command(cli_app))
    assert not WRITING_COMMANDS & READ_ONLY_COMMANDS
    assert set(commands) == WRITING_COMMANDS | READ_ONLY_COMMANDS, (
        f"unclassified: {sorted(set(commands) - WRITING_COMMANDS - READ_ONLY_COMMANDS)}; "
        f"gone: {sorted(WRITING_COMMANDS | READ_ONLY_COMMANDS - set(commands))}"
    )
    for name in sorted(WRITING_COMMANDS):
        flags = {o for p in commands[name].params for o in p.opts}
        assert "--dry-run" in flags, f"wangge {name} writes but has no --dry-run"
    for name in sorted(READ_ONLY_COMMANDS):
        flags = {o for p in commands[name].params for o in p.opts}
        assert "--dry-run" not in flags, f"wangge {name} is declared read-only"


# --------------------------------------------------------------------------- a new database


def test_a_dry_run_creates_no_database(db_url, empty_target, tmp_path):
    """A database that is not there (SpatiaLite) or has no tables (PostGIS) stays so."""
    grids = gpd.read_file(DEMO / "grids.geojson")
    args = ["load", "division", DEMO / "grids.geojson", "--boundary", DEMO / "boundary.geojson",
            "--community", "外滩源社区", "--db", empty_target, "--dry-run", "--json"]  # fmt: skip
    dry = runner.invoke(cli_app, [str(a) for a in args])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)["would_write"]
    assert _inserted(report) == {"communities": 1, "divisions": 1, "grids": len(grids)}
    path = _sqlite_path(empty_target)
    if path is not None:
        assert report["database_created"] is True
        assert not path.exists() and list(tmp_path.iterdir()) == []
    else:
        engine = sa.create_engine(sa.make_url(empty_target).set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        engine.dispose()


# --------------------------------------------------------------------------- database writes


def test_load_division(migrated_url, tmp_path):
    grids = gpd.read_file(DEMO / "grids.geojson")
    base = ["load", "division", DEMO / "grids.geojson", "--boundary", DEMO / "boundary.geojson",
            "--community", "外滩源社区", "--db", migrated_url]  # fmt: skip
    report, result = dry_then_real(migrated_url, base, folder=tmp_path)
    assert _inserted(report) == {"communities": 1, "divisions": 1, "grids": len(grids)}
    assert result["grids"] == len(grids) and result["stored"] is True
    # a second division replaces the first: one more division, the first one's end updated
    later = [*base, "--effective-date", "2031-01-01"]
    report, _ = dry_then_real(migrated_url, later, folder=tmp_path)
    assert _inserted(report) == {"divisions": 1, "grids": len(grids)}
    assert report["tables"]["divisions"]["updated"] >= 1
    # text output: the report follows what the command says
    text = runner.invoke(cli_app, [str(a) for a in [*base, "--effective-date", "2032-01-01"]]
                         + ["--dry-run"])  # fmt: skip
    assert text.exit_code == 0 and "would write grids: 新增 / insert 12" in _said(text.stdout)


def test_user_create_and_totp(demo_url, tmp_path):
    codes = ["310101002005001", "310101002005002"]
    args = ["user", "create", "dry_gw", "--role", "grid_worker", "--grids", ",".join(codes),
            "--password-stdin", "--db", demo_url]  # fmt: skip
    report, result = dry_then_real(demo_url, args, folder=tmp_path, stdin="dry-run-pass-1\n")
    assert _inserted(report) == {"users": 1, "user_grids": len(codes), "audit_log": 1}
    assert result["username"] == "dry_gw"
    report, result = dry_then_real(demo_url, ["user", "totp", "dry_gw", "--db", demo_url],
                                   folder=tmp_path)  # fmt: skip
    assert _inserted(report) == {"audit_log": 1}
    assert report["tables"]["users"]["updated"] == 1 and result["secret"]


def test_import_houses(demo_url, tmp_path):
    rows = [{"门牌号码": f"演练路{i}号", "经度": 121.484, "纬度": 31.2398} for i in range(1, 5)]
    (tmp_path / "in").mkdir()
    path = write_csv(tmp_path / "in" / "h.csv", rows)
    args = ["import", "houses", path, "--community", COMMUNITY, "--db", demo_url,
            "--report", tmp_path / "report.csv"]  # fmt: skip
    report, result = dry_then_real(demo_url, args, folder=tmp_path)
    assert _inserted(report)["houses"] == len(rows) == result["imported"]
    assert _inserted(report)["change_log"] == len(rows)
    assert [f["path"] for f in report["files"]] == [str(tmp_path / "report.csv")]


def test_export_template_backup(demo_url, tmp_path):
    out = tmp_path / "grids.geojson"
    report, result = dry_then_real(
        demo_url, ["export", "grids", "--community", COMMUNITY, "--out", out, "--db", demo_url],
        folder=tmp_path,
    )  # fmt: skip
    assert report["tables"] == {} and result["out"] == str(out)
    assert report["files"] == [{"path": str(out), "bytes": out.stat().st_size, "replaces": False}]
    assert len(gpd.read_file(out)) == len(gpd.read_file(DEMO / "grids.geojson"))
    report, _ = dry_then_real(None, ["template", "houses", "--out", tmp_path / "t.xlsx"],
                              folder=tmp_path)  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(tmp_path / "t.xlsx")]
    backup = tmp_path / "b" / "demo.backup"
    report, result = dry_then_real(demo_url, ["backup", "--db", demo_url, "--out", backup],
                                   folder=tmp_path)  # fmt: skip
    assert sorted(f["path"] for f in report["files"]) == [
        str(backup), str(backup) + ".audit-head.json"]  # fmt: skip
    assert report["tables"] == {} and result["file"] == str(backup)


def _table_counts(url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in dump(url).items() if rows}


def test_db_copy_and_restore(demo_url, migrated_url, empty_target, tmp_path):
    source = _table_counts(demo_url)
    seeded = _table_counts(migrated_url)  # the code tables the migrations fill
    seeded.pop("alembic_version")
    report, result = dry_then_real(
        migrated_url, ["db", "copy", "--from", demo_url, "--to", migrated_url], folder=tmp_path
    )
    expected = {n: c for n, c in source.items() if n != "alembic_version"}
    assert _inserted(report) == expected
    assert {n: t["deleted"] for n, t in report["tables"].items() if t["deleted"]} == seeded
    assert {n: c for n, c in result["tables"].items() if c} == expected
    # restore a backup of the demo into an empty database: nothing made by the dry run
    backup = tmp_path / "b" / "demo.backup"
    assert runner.invoke(cli_app, ["backup", "--db", demo_url, "--out", str(backup)]).exit_code == 0
    target = _sqlite_path(empty_target)
    dry = runner.invoke(cli_app, ["restore", str(backup), "--db", empty_target, "--dry-run",
                                  "--json"])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    would = json.loads(dry.stdout)["would_write"]
    if target is not None:
        assert not target.exists()
        assert [f["path"] for f in would["files"]] == [str(target)]
    else:
        assert dump(empty_target) == {}
    assert {n: t["inserted"] for n, t in would["tables"].items()
            if n != "alembic_version"} == expected  # fmt: skip
    done = runner.invoke(cli_app, ["restore", str(backup), "--db", empty_target, "--json"])
    assert done.exit_code == 0, done.output
    assert {n: c for n, c in _table_counts(empty_target).items() if n != "alembic_version"} == (
        expected
    )


def test_keys_rotate(demo_url, tmp_path):
    sealed = _count(demo_url, "SELECT count(*) FROM residents WHERE id_number IS NOT NULL "
                              "OR phone IS NOT NULL")  # fmt: skip
    key_file = tmp_path / "new.key"
    report, result = dry_then_real(
        demo_url, ["keys", "rotate", "--new-key-file", key_file, "--db", demo_url],
        folder=tmp_path,
    )  # fmt: skip
    assert sealed > 0 and report["tables"]["residents"]["updated"] == sealed
    assert result["residents"] == sealed and report["tables"].keys() <= {"residents", "change_log"}
    assert [f["path"] for f in report["files"]] == [str(key_file)]
    # put the configured key back for the other tests: rotate from the new key to it
    old_key = tmp_path / "old.key"
    old_key.write_text(os.environ["WANGGE_DATA_KEY"] + "\n", encoding="ascii")
    set_keyring(Keyring(parse_data_key(key_file.read_text(encoding="ascii"))))
    try:
        back = runner.invoke(cli_app, ["keys", "rotate", "--new-key-file", str(old_key), "--db",
                                       demo_url])  # fmt: skip
        assert back.exit_code == 0, back.output
    finally:
        reset_keyring()


def _first_incident(url: str) -> int:
    return _count(url, "SELECT min(id) FROM incidents")


def test_incident_slip_and_open311_key(demo_url, tmp_path):
    slip = tmp_path / "slip.pdf"
    report, _ = dry_then_real(
        demo_url, ["incidents", "slip", _first_incident(demo_url), "--out", slip, "--db",
                   demo_url], folder=tmp_path, as_json=False,
    )  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(slip)]
    assert slip.read_bytes().startswith(b"%PDF")
    report, _ = dry_then_real(demo_url, ["open311", "key", "create", "dry-app", "--db", demo_url],
                              folder=tmp_path, as_json=False)  # fmt: skip
    assert _inserted(report) == {"api_keys": 1}


def test_routing_commands(demo_url, tmp_path):
    report, _ = dry_then_real(demo_url, ["routing", "add-post", "演练岗", "--db", demo_url],
                              folder=tmp_path, as_json=False)  # fmt: skip
    assert _inserted(report) == {"posts": 1}
    report, _ = dry_then_real(
        demo_url, ["routing", "add-department", "YLBM", "演练部门", "--db", demo_url],
        folder=tmp_path, as_json=False,
    )  # fmt: skip
    assert _inserted(report) == {"departments": 1}
    table = tmp_path / "routing.csv"
    report, _ = dry_then_real(demo_url, ["routing", "export", table, "--db", demo_url],
                              folder=tmp_path, as_json=False)  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(table)]
    rules = pd.read_csv(table, dtype=str, keep_default_na=False)
    rules.loc[rules.index[:3], "承办岗位"] = "演练岗"
    edited = tmp_path / "in" / "routing.csv"
    edited.parent.mkdir()
    rules.to_csv(edited, index=False)
    report, result = dry_then_real(demo_url, ["routing", "import", edited, "--db", demo_url],
                                   folder=tmp_path)  # fmt: skip
    assert result == {"applied": len(rules), "dry_run": False}
    assert report["tables"]["incident_categories"]["updated"] >= 3


def _track(path: Path, grid_code: str) -> Path:
    """A 20-minute walk inside the demo grid ``grid_code`` on 2026-03-02 (CSV, lon/lat)."""
    grids = gpd.read_file(DEMO / "grids.geojson")
    inside = shapely.get_coordinates(grids.set_index("code").loc[grid_code].geometry
                                     .representative_point())[0]  # fmt: skip
    start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    rows = ["time,lon,lat"]
    for k in range(21):
        rows.append(f"{(start + dt.timedelta(minutes=k)).isoformat()},"
                    f"{float(inside[0]) + 1e-6 * (k % 5)!r},{float(inside[1])!r}")  # fmt: skip
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_patrol_commands(demo_url, tmp_path):
    staff = pd.read_csv(DEMO / "staff.csv", dtype=str)
    worker = staff[staff["role"] == "grid_worker"].iloc[0]
    grid = worker["grid_codes"].split(",")[0]
    (tmp_path / "in").mkdir()
    track = _track(tmp_path / "in" / "walk.csv", grid)
    head = runner.invoke(cli_app, ["user", "create", "dry_head", "--role", "community_head",
                                   "--grids", grid, "--password-stdin", "--db", demo_url],
                         input="dry-run-head-1\n")  # fmt: skip
    assert head.exit_code == 0, head.output
    report, result = dry_then_real(
        demo_url, ["patrol", "hours", track, "--worker", worker["name"], "--db", demo_url,
                   "--store"], folder=tmp_path, code=1,
    )  # fmt: skip
    # the track, a row per day and grid, and the upload in the worker's work log
    assert _inserted(report) == {"patrol_tracks": 1, "patrol_days": len(result["days"]),
                                 "work_log": 1}  # fmt: skip
    added, entry = dry_then_real(
        demo_url, ["patrol", "manual", "add", "--worker", worker["name"], "--grid", grid,
                   "--start", "2026-03-03T09:00+08:00", "--end", "2026-03-03T11:00+08:00",
                   "--db", demo_url], folder=tmp_path,
    )  # fmt: skip
    assert _inserted(added) == {"patrol_manual": 1} and entry["hours"] == 2.0
    decided, _ = dry_then_real(
        demo_url, ["patrol", "manual", "approve", entry["id"], "--by", "dry_head",
                   "--db", demo_url], folder=tmp_path,
    )  # fmt: skip
    assert decided["tables"]["patrol_manual"]["updated"] == 1
    other = runner.invoke(cli_app, [str(a) for a in [
        "patrol", "manual", "add", "--worker", worker["name"], "--grid", grid, "--start",
        "2026-03-04T09:00+08:00", "--end", "2026-03-04T10:00+08:00", "--db", demo_url, "--json"]])
    assert other.exit_code == 0, other.output
    rejected, _ = dry_then_real(
        demo_url, ["patrol", "manual", "reject", json.loads(other.stdout)["id"], "--by",
                   "dry_head", "--db", demo_url], folder=tmp_path,
    )  # fmt: skip
    assert rejected["tables"]["patrol_manual"]["updated"] == 1
    pdf = tmp_path / "week.pdf"
    report, result = dry_then_real(
        demo_url, ["patrol", "week", "--worker", worker["name"], "--week", "2026-03-03", "--out",
                   pdf, "--db", demo_url], folder=tmp_path, code=1,
    )  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(pdf)] and result["manual_hours"] == 2.0


def test_assessment_and_appraisal(demo_url, tmp_path):
    month = "2026-04"
    report, drawn = dry_then_real(
        demo_url, ["assess", "draw", "--community", COMMUNITY, "--month", month, "--db",
                   demo_url], folder=tmp_path,
    )  # fmt: skip
    # one sample a community and month, holding its 10 households
    assert _inserted(report) == {"assessment_samples": 1} and len(drawn["households"]) == 10
    report, _ = dry_then_real(
        demo_url, ["assess", "dept", "--community", COMMUNITY, "--month", month, "--dept",
                   "office", "--points", 7.5, "--reason", "演练", "--db", demo_url],
        folder=tmp_path,
    )  # fmt: skip
    assert _inserted(report) == {"assessment_dept_scores": 1}
    for dept in ("social_affairs", "economy", "urban_management", "stability"):
        scored = runner.invoke(cli_app, ["assess", "dept", "--community", COMMUNITY, "--month",
                                         month, "--dept", dept, "--points", "8", "--reason",
                                         "演练", "--db", demo_url])  # fmt: skip
        assert scored.exit_code == 0, scored.output
    workbook = tmp_path / "in" / "field.xlsx"
    workbook.parent.mkdir()
    made = runner.invoke(cli_app, ["template", "field-check", "--out", str(workbook)])
    assert made.exit_code == 0, made.output
    wb = load_workbook(workbook)
    for h in drawn["households"]:
        wb["房屋"].append([h["house_key"]])
    wb.save(workbook)
    report, _ = dry_then_real(
        demo_url, ["assess", "score", "--community", COMMUNITY, "--month", month,
                   "--field-data", workbook, "--db", demo_url], folder=tmp_path,
    )  # fmt: skip
    assert _inserted(report) == {"assessment_points": 10}
    xlsx = tmp_path / "month.xlsx"
    report, _ = dry_then_real(demo_url, ["assess", "report", "--month", month, "--out", xlsx,
                                         "--db", demo_url], folder=tmp_path)  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(xlsx)]
    workers = _count(demo_url, "SELECT count(*) FROM staff s JOIN communities c ON c.id = "
                     "s.community_id WHERE c.code = :c", c=COMMUNITY)  # fmt: skip
    appraisal = tmp_path / "appraisal.xlsx"
    report, result = dry_then_real(
        demo_url, ["appraise", "--community", COMMUNITY, "--month", month, "--out", appraisal,
                   "--db", demo_url], folder=tmp_path,
    )  # fmt: skip
    assert report["tables"] == {}  # the appraisal is computed, only its report is written
    assert 0 < len(result["workers"]) <= workers
    assert [f["path"] for f in report["files"]] == [str(appraisal)]


def test_demo(migrated_url, tmp_path):
    report, result = dry_then_real(migrated_url, ["demo", "--db", migrated_url, "--no-maps"],
                                   folder=tmp_path)  # fmt: skip
    counted = {what: len(pd.read_csv(DEMO / f"{what}.csv")) for what in ("houses", "incidents")}
    inserted = _inserted(report)
    assert (inserted["houses"], inserted["incidents"]) == (counted["houses"],
                                                           counted["incidents"])  # fmt: skip
    assert inserted["grids"] == len(gpd.read_file(DEMO / "grids.geojson"))
    assert result["houses"]["total"] == counted["houses"]


# --------------------------------------------------------------------------- files only


def test_file_commands(demo_url, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    points = inputs / "houses.csv"
    points.write_bytes((DEMO / "houses.csv").read_bytes())
    grids, boundary = DEMO / "grids.geojson", DEMO / "boundary.geojson"
    defective = DEMO / "grids_defective.geojson"
    out = tmp_path / "out"
    cases = [
        (["assign", points, "--grids", grids, "--out", out / "a.csv"], 0, [out / "a.csv"]),
        (["validate", defective, "--boundary", boundary, "--out", out / "f.geojson"], 1,
         [out / "f.geojson"]),
        (["repair", defective, "--boundary", boundary, "--out", out / "r.geojson", "--log",
          out / "r-log.geojson"], 0, [out / "r.geojson", out / "r-log.geojson"]),
        (["balance", grids, "--houses", points, "--out", out / "b.csv"], None, [out / "b.csv"]),
        (["map", "division", "--community", COMMUNITY, "--out", out / "m.html", "--db",
          demo_url], 0, [out / "m.html"]),
        (["print", "division", "--community", COMMUNITY, "--out", out / "d.pdf", "--db",
          demo_url], 0, [out / "d.pdf"]),
        # without --db and --store, patrol hours writes nothing: its dry run says so
        (["patrol", "hours", _track(inputs / "walk.csv", "310101002005001"), "--worker", "某人",
          "--grids", grids], 1, []),
    ]  # fmt: skip
    for args, code, expected in cases:
        report, _ = dry_then_real(demo_url, args, folder=tmp_path, code=code)
        assert sorted(f["path"] for f in report["files"]) == sorted(map(str, expected)), args
        assert report["tables"] == {}, args
    assigned = pd.read_csv(out / "a.csv")
    assert len(assigned) == len(pd.read_csv(points))


def test_divide_geocode_gazetteer_basemap(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    out = tmp_path / "out"
    osm = DEMO / "osm_bund.gpkg"
    gazetteer = out / "g.csv"
    report, result = dry_then_real(None, ["gazetteer", "build", "--from", osm, "--out",
                                          gazetteer], folder=tmp_path)  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(gazetteer)]
    assert len(pd.read_csv(gazetteer)) == result["door_plates"]
    addresses = write_csv(inputs / "addr.csv", [{"地址": "上海市黄浦区九江路1号"},
                                               {"地址": "上海市黄浦区圆明园路2号"}])  # fmt: skip
    geocoded = out / "geo.csv"
    report, _ = dry_then_real(None, ["geocode", addresses, "--column", "地址", "--gazetteer",
                                     DEMO / "houses.csv", "--address-column", "address", "--out",
                                     geocoded], folder=tmp_path)  # fmt: skip
    assert [f["path"] for f in report["files"]] == [str(geocoded)]
    assert len(pd.read_csv(geocoded)) == 2
    divided, report_table = out / "divided.geojson", out / "divided.csv"
    report, result = dry_then_real(
        None, ["divide", "--boundary", DEMO / "boundary.geojson", "--roads", osm, "--roads-layer",
               "roads", "--houses", DEMO / "houses.csv", "--buildings", osm, "--buildings-layer",
               "buildings", "--target", 120, "--out", divided, "--report", report_table],
        folder=tmp_path, code=None,
    )  # fmt: skip
    assert sorted(f["path"] for f in report["files"]) == [str(report_table), str(divided)]
    assert len(gpd.read_file(divided)) == len(pd.read_csv(report_table)) == result["grids"]
    tiles = out / "base.pmtiles"
    report, result = dry_then_real(None, ["basemap", "build", osm, "--out", tiles, "--maxzoom",
                                          12, "--processes", 1], folder=tmp_path)  # fmt: skip
    assert report["files"] == [{"path": str(tiles), "bytes": tiles.stat().st_size,
                                "replaces": False}]  # fmt: skip
    assert result["out"] == str(tiles)

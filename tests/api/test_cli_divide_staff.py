"""``wangge divide --staff FILE`` / ``--grids N``: one grid per eligible grid worker of the
staff register ('4050' staff excluded), balanced by households; ``--target`` the alternative."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from api.cli import app
from api.services.registry.codes import code_table
from api.services.registry.templates import COLUMNS

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def divide_args(out: Path, *extra) -> list:
    osm = DEMO / "osm_bund.gpkg"
    return [
        "divide", "--boundary", DEMO / "boundary.geojson", "--roads", osm, "--roads-layer",
        "roads", "--houses", DEMO / "houses.csv", "--buildings", osm, "--buildings-layer",
        "buildings", "--out", out, "--json", *extra,
    ]  # fmt: skip


def demo_register(path: Path, *, with_4050: bool = True) -> pd.DataFrame:
    """The demo staff as a filled-in staff template (Chinese headers, role names in Chinese);
    without ``with_4050`` the template of before (no 4050人员 column)."""
    staff = pd.read_csv(DEMO / "staff.csv", dtype=str)
    roles = code_table("staff_role")
    headers = {c.field: c.header_zh for c in COLUMNS["staff"]}
    fields = ["name", "role", "phone", "duties", "grid_codes", "staff_no"]
    table = pd.DataFrame({headers[f]: staff[f] for f in fields})
    table[headers["role"]] = staff["role"].map(roles.name_zh)
    if with_4050:
        table[headers["is_4050"]] = staff["is_4050"].map({"True": "是", "False": "否"})
    if path.suffix == ".xlsx":
        wb = Workbook()
        ws = wb.active
        ws.title = "人员"
        ws.append(list(table.columns))
        for row in table.itertuples(index=False):
            ws.append(list(row))
        wb.save(path)
    else:
        table.to_csv(path, index=False, encoding="utf-8-sig")
    return staff


def test_staff_register_gives_one_grid_per_eligible_worker(tmp_path):
    register = tmp_path / "staff.xlsx"
    staff = demo_register(register)
    eligible = int(((staff["role"] == "grid_worker") & (staff["is_4050"] != "True")).sum())
    excluded = int(((staff["role"] == "grid_worker") & (staff["is_4050"] == "True")).sum())
    assert excluded >= 1 and eligible >= 2  # the demo has 4050 workers to leave out
    out = tmp_path / "by_staff.geojson"
    result = run(*divide_args(out, "--staff", register, "--code-prefix", "310101002005"))
    assert result.exit_code in (0, 1), result.output
    summary = json.loads(result.stdout)
    assert summary["grids"] == summary["grids_requested"] == eligible
    assert summary["staff"] == {
        "eligible": eligible,
        "excluded_4050": excluded,
        "other_roles": int((staff["role"] != "grid_worker").sum()),
    }
    grids = gpd.read_file(out)
    assert len(grids) == eligible
    assert summary["valid"] is True
    assert run("validate", out, "--boundary", DEMO / "boundary.geojson").exit_code == 0
    households = grids["households"].astype(float)
    total = pd.read_csv(DEMO / "houses.csv")["households"].sum()
    assert households.sum() == total
    # balanced: the spread reported is the one in the file, and every grid is within the band
    mean = total / eligible
    assert summary["target"] == pytest.approx(mean)
    assert summary["households_spread"] == pytest.approx(
        (households.max() - households.min()) / mean, abs=1e-4
    )
    assert households.between(0.8 * mean, 1.2 * mean).all(), households.tolist()


def test_template_of_before_without_4050_column_counts_every_worker(tmp_path):
    register = tmp_path / "staff.csv"
    staff = demo_register(register, with_4050=False)
    out = tmp_path / "all.geojson"
    result = run(*divide_args(out, "--staff", register))
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["grids"] == int((staff["role"] == "grid_worker").sum())


def test_grids_n(tmp_path):
    out = tmp_path / "five.geojson"
    result = run(*divide_args(out, "--grids", 5))
    assert result.exit_code in (0, 1), result.output
    assert len(gpd.read_file(out)) == json.loads(result.stdout)["grids"] == 5


@pytest.mark.parametrize(
    "extra",
    [
        ("--target", 300, "--grids", 5),
        ("--grids", 5, "--staff", "x.csv"),
        ("--target", 300, "--staff", "x.csv"),
    ],
)
def test_alternatives_are_exclusive(tmp_path, extra):
    out = tmp_path / "never.geojson"
    result = run(*divide_args(out, *extra))
    assert result.exit_code == 2
    assert "alternatives" in result.output
    assert not out.exists()


def test_bad_register_row_is_named(tmp_path):
    register = tmp_path / "bad.csv"
    register.write_text(
        "姓名,岗位/角色,联系电话,4050人员\n王五,专职网格员,13912345678,否\n李四,宇航员,13912345679,否\n"
        "赵六,专职网格员,13912345670,也许\n",
        encoding="utf-8",
    )
    out = tmp_path / "never.geojson"
    result = run(*divide_args(out, "--staff", register))
    assert result.exit_code == 2
    assert "row 3 role" in result.output and "row 4 is_4050" in result.output
    assert not out.exists()


def test_register_without_eligible_worker(tmp_path):
    register = tmp_path / "none.csv"
    register.write_text(
        "姓名,岗位/角色,联系电话,4050人员\n王五,专职网格员,13912345678,是\n李四,网格长,13912345679,\n",
        encoding="utf-8",
    )
    result = run(*divide_args(tmp_path / "never.geojson", "--staff", register))
    assert result.exit_code == 2
    assert "no grid worker" in result.output

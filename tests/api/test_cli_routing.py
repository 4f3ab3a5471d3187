"""``wangge routing``: export the routing table, edit it as a spreadsheet, import it back
(all or nothing, exit 2 naming each bad row), add posts and departments; both databases."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import init_db, make_engine

runner = CliRunner()


@pytest.fixture
def url(fresh_db_url) -> str:
    engine = make_engine(fresh_db_url)
    init_db(engine)
    engine.dispose()
    return fresh_db_url


def _show(url: str) -> dict:
    result = runner.invoke(app, ["routing", "show", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_edit_import_round_trip(url, tmp_path, suffix):
    assert runner.invoke(app, ["routing", "add-post", "市容巡查岗", "--db", url]).exit_code == 0
    added = runner.invoke(app, ["routing", "add-department", "CGZX", "城市管理中心", "--db", url])
    assert added.exit_code == 0, added.output
    path = tmp_path / f"routing{suffix}"
    assert runner.invoke(app, ["routing", "export", str(path), "--db", url]).exit_code == 0
    read = pd.read_excel if suffix == ".xlsx" else pd.read_csv
    table = read(path, dtype=str, keep_default_na=False)
    assert list(table.columns) == ["类别编码", "类别名称", "承办岗位", "是否公开", "上报部门编码"]
    before = {r["category_code"]: r for r in _show(url)["rules"]}
    assert len(table) == len(before)
    assert table.set_index("类别编码").loc["0604", "是否公开"] == "否"
    assert table.set_index("类别编码").loc["0303", "是否公开"] == "是"
    # edit: 0303 to the new post and department; 0320 made not public
    table.loc[table["类别编码"] == "0303", ["承办岗位", "上报部门编码"]] = ["市容巡查岗", "CGZX"]
    table.loc[table["类别编码"] == "0320", "是否公开"] = "否"
    write = table.to_excel if suffix == ".xlsx" else table.to_csv
    write(path, index=False)
    dry = runner.invoke(app, ["routing", "import", str(path), "--dry-run", "--db", url])
    assert dry.exit_code == 0 and _show(url)["rules"] == list(before.values())
    done = runner.invoke(app, ["routing", "import", str(path), "--db", url, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"applied": len(before), "dry_run": False}
    after = {r["category_code"]: r for r in _show(url)["rules"]}
    assert (after["0303"]["post"], after["0303"]["department_code"]) == ("市容巡查岗", "CGZX")
    assert after["0320"]["public"] is False
    changed = {c for c in after if after[c] != before[c]}
    assert changed == {"0303", "0320"}


def test_bad_rows_exit_2_and_write_nothing(url, tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame(
        {"类别编码": ["0303", "9999", "0301"], "承办岗位": ["城建管理岗", "", "无此岗"],
         "是否公开": ["是", "是", "也许"], "上报部门编码": ["", "", "NOPE"]}
    ).to_csv(path, index=False)  # fmt: skip
    before = _show(url)["rules"]
    result = runner.invoke(app, ["routing", "import", str(path), "--db", url])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    for row, field in ((2, "category_code"), (3, "post"), (3, "public"), (3, "department_code")):
        assert f"row {row} {field}" in said, said
    assert _show(url)["rules"] == before
    wrong_header = tmp_path / "wrong.csv"
    pd.DataFrame({"类别": ["0303"]}).to_csv(wrong_header, index=False)
    assert runner.invoke(app, ["routing", "import", str(wrong_header), "--db", url]).exit_code == 2
    missing = runner.invoke(app, ["routing", "import", str(tmp_path / "none.csv"), "--db", url])
    assert missing.exit_code == 2
    assert runner.invoke(app, ["routing", "add-post", "城建管理岗", "--db", url]).exit_code == 2

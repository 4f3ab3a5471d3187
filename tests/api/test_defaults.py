"""One set of defaults: the settings, the README and the household target and band (library,
CLI, planner) read gis.defaults through the settings WANGGE_TARGET_HOUSEHOLDS and
WANGGE_TARGET_BAND, and the tolerance and noise settings reach every validation
that names no tolerance (CLI here, the API in tests/api/routes/test_tolerance_setting.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.core.config import Settings, get_settings
from gis.coverage import validate
from gis.defaults import (
    DEFAULT_HOUSEHOLD_BAND,
    DEFAULT_NOISE_M,
    DEFAULT_TARGET_HOUSEHOLDS,
    DEFAULT_TOLERANCE_M,
)
from tests.common import planted_cases

ROOT = Path(__file__).resolve().parents[2]


def _readme_settings() -> dict[str, str]:
    """The README's configuration table: variable -> default cell (backticks removed)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(WANGGE_[A-Z0-9_]+)` \|([^|]*)\|", text, re.M)
    return {name: cell.strip().strip("`") for name, cell in rows}


def test_settings_take_their_defaults_from_gis_defaults():
    fields = Settings.model_fields
    assert fields["tolerance_m"].default == DEFAULT_TOLERANCE_M
    assert fields["noise_floor_m"].default == DEFAULT_NOISE_M


def test_readme_lists_every_setting_with_its_numeric_default():
    documented = _readme_settings()
    for name, field in Settings.model_fields.items():
        variable = f"WANGGE_{name.upper()}"
        assert variable in documented, f"README's configuration table lacks {variable}"
        default = field.default
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert float(documented[variable]) == float(default), variable


@pytest.fixture()
def gap_files(tmp_path):
    """A division with a 0.3 m x 40 m notch between two grids, as GeoJSON files."""
    case = planted_cases()["gap_0.3m"]
    grids, boundary = tmp_path / "grids.geojson", tmp_path / "boundary.geojson"
    case.grids.to_file(grids, driver="GeoJSON")
    case.boundary.to_file(boundary, driver="GeoJSON")
    return case, grids, boundary


@pytest.fixture()
def setting(monkeypatch):
    """Set WANGGE_* variables for one test; the cached settings are read afresh."""

    def put(**values: float) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"WANGGE_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield put
    monkeypatch.undo()
    get_settings.cache_clear()


def _kinds(frame) -> list[str]:
    return sorted(frame["kind"]) if len(frame) else []


def _cli_kinds(*args) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["validate", *map(str, args), "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, sorted(f["kind"] for f in json.loads(result.stdout)["findings"])


def test_cli_validate_without_tolerance_uses_the_setting(gap_files, setting):
    case, grids, boundary = gap_files
    # what the notch is at each tolerance, straight from the spatial core
    wide = _kinds(validate(case.grids, case.boundary, tolerance_m=0.5))
    narrow = _kinds(validate(case.grids, case.boundary, tolerance_m=0.2))
    assert wide != narrow  # the notch (0.3 m) is a sliver under 0.5 m, a gap under 0.2 m

    assert _cli_kinds(grids, "--boundary", boundary)[1] == wide  # the default, 0.5
    setting(tolerance_m=0.2)
    code, kinds = _cli_kinds(grids, "--boundary", boundary)
    assert kinds == narrow
    assert code == 1  # a gap is an error
    # an explicit tolerance wins over the setting, under either spelling
    assert _cli_kinds(grids, "--boundary", boundary, "--tolerance-m", 0.5)[1] == wide
    assert _cli_kinds(grids, "--boundary", boundary, "--tolerance", 0.5)[1] == wide


def test_cli_validate_reads_the_noise_floor_setting(gap_files, setting):
    _, grids, boundary = gap_files
    setting(tolerance_m=0.2, noise_floor_m=0.5)  # a floor above the tolerance is refused
    result = CliRunner().invoke(app, ["validate", str(grids), "--boundary", str(boundary)])
    assert result.exit_code == 2
    assert "noise_m" in result.output and "0.5" in result.output


def test_every_setting_is_read_somewhere():
    config = ROOT / "api" / "core" / "config.py"
    texts = [
        p.read_text(encoding="utf-8")
        for folder in ("api", "maps", "gis")
        for p in (ROOT / folder).rglob("*.py")
        if p != config
    ]
    # config.py beyond the Settings class itself (its helpers read settings too)
    texts.append(config.read_text(encoding="utf-8").split("\n@lru_cache", 1)[1])
    unread = {
        name
        for name in Settings.model_fields
        if not any(re.search(rf"\.{name}\b", text) for text in texts)
    }
    assert unread == set()


def test_one_household_target_and_band_for_library_cli_and_planner():
    # the households a grid should hold are one setting: the library's verbs, the CLI's
    # options and the planner's request bodies all default to gis.defaults
    import inspect

    from api.routes.planner import DivideBody, ValidateBody
    from gis.balance import balance_report
    from gis.divide import divide

    divide_params = inspect.signature(divide).parameters
    assert divide_params["target_households"].default == DEFAULT_TARGET_HOUSEHOLDS
    assert divide_params["band"].default == DEFAULT_HOUSEHOLD_BAND
    balance_params = inspect.signature(balance_report).parameters
    assert balance_params["target"].default == DEFAULT_TARGET_HOUSEHOLDS
    assert balance_params["band"].default == DEFAULT_HOUSEHOLD_BAND
    # the settings default to gis.defaults, and the planner's bodies and the CLI read them
    fields = Settings.model_fields
    assert fields["target_households"].default == DEFAULT_TARGET_HOUSEHOLDS
    assert fields["target_band"].default == DEFAULT_HOUSEHOLD_BAND
    for body in (ValidateBody, DivideBody):
        assert body.model_fields["target_households"].get_default(call_default_factory=True) == (
            DEFAULT_TARGET_HOUSEHOLDS
        )
        assert body.model_fields["band"].get_default(call_default_factory=True) == (
            DEFAULT_HOUSEHOLD_BAND
        )
    for command in ("divide", "balance"):
        shown = " ".join(
            CliRunner().invoke(app, [command, "--help"], terminal_width=200).output.split()
        )
        assert f"(default: the WANGGE_TARGET_HOUSEHOLDS setting, {DEFAULT_TARGET_HOUSEHOLDS})" in (
            shown
        ), command
        assert f"(default: the WANGGE_TARGET_BAND setting, {DEFAULT_HOUSEHOLD_BAND}" in shown
        assert f"±{DEFAULT_HOUSEHOLD_BAND:.0%}" in shown


def test_readme_states_the_household_target_default():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in text.splitlines() if line.startswith("| `wangge divide ")]
    assert re.findall(r"--target` households per grid \(default (\d+)", row) == [
        str(DEFAULT_TARGET_HOUSEHOLDS)
    ]
    assert f"±{DEFAULT_HOUSEHOLD_BAND:.0%}" in row
    # the planner page's paragraph states the same numbers
    flat = " ".join(text.split())
    planner = re.findall(r"and `balance`: (\d+) households per grid, ±(\d+)%", flat)
    assert planner == [(str(DEFAULT_TARGET_HOUSEHOLDS), f"{DEFAULT_HOUSEHOLD_BAND * 100:.0f}")]


def test_cli_balance_without_target_flags_against_the_default_band():
    demo = ROOT / "data" / "demo"
    result = CliRunner().invoke(
        app,
        ["balance", str(demo / "grids.geojson"), "--houses", str(demo / "houses.csv"), "--json"],
    )
    assert result.exit_code in (0, 1), result.output
    payload = json.loads(result.stdout)
    assert payload["totals"]["target"] == DEFAULT_TARGET_HOUSEHOLDS
    assert payload["totals"]["band"] == DEFAULT_HOUSEHOLD_BAND
    low = DEFAULT_TARGET_HOUSEHOLDS * (1 - DEFAULT_HOUSEHOLD_BAND)
    high = DEFAULT_TARGET_HOUSEHOLDS * (1 + DEFAULT_HOUSEHOLD_BAND)
    for grid in payload["grids"]:
        h = grid["households"]
        assert grid["flag"] == ("under" if h < low else "over" if h > high else "ok")


def _balance_demo(*options: str):
    demo = ROOT / "data" / "demo"
    return CliRunner().invoke(
        app,
        ["balance", str(demo / "grids.geojson"), "--houses", str(demo / "houses.csv"), "--json",
         *options],
    )  # fmt: skip


def test_cli_balance_without_target_uses_the_settings(monkeypatch):
    # a micro-grid deployment: 80 households per grid, ±10 %; --target/--band still win
    monkeypatch.setenv("WANGGE_TARGET_HOUSEHOLDS", "80")
    monkeypatch.setenv("WANGGE_TARGET_BAND", "0.1")
    get_settings.cache_clear()
    try:
        result = _balance_demo()
        given = _balance_demo("--target", "500", "--band", "0.3")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code in (0, 1), result.output
    payload = json.loads(result.stdout)
    assert (payload["totals"]["target"], payload["totals"]["band"]) == (80, 0.1)
    for grid in payload["grids"]:
        h = grid["households"]
        assert grid["flag"] == ("under" if h < 72 else "over" if h > 88 else "ok")
    assert given.exit_code in (0, 1), given.output
    totals = json.loads(given.stdout)["totals"]
    assert (totals["target"], totals["band"]) == (500, 0.3)


@pytest.mark.parametrize(
    ("name", "value"),
    [("WANGGE_TARGET_HOUSEHOLDS", "0"), ("WANGGE_TARGET_HOUSEHOLDS", "-5"),
     ("WANGGE_TARGET_HOUSEHOLDS", "abc"), ("WANGGE_TARGET_HOUSEHOLDS", "2.5"),
     ("WANGGE_TARGET_BAND", "0"), ("WANGGE_TARGET_BAND", "1"), ("WANGGE_TARGET_BAND", "-0.2"),
     ("WANGGE_TARGET_BAND", "abc")],
)  # fmt: skip
def test_a_bad_household_setting_is_refused_naming_the_variable(tmp_path, monkeypatch, name, value):
    from api.app import create_app

    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match=name):
            Settings()
        with pytest.raises(ValueError, match=name):
            create_app(f"sqlite:///{tmp_path / 'w.db'}")
        get_settings.cache_clear()
        result = _balance_demo()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert name in flat and repr(value) in flat

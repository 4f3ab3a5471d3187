"""The run fails when a test is skipped (tests/no_skips.py), so CI cannot pass by skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SKIPPING_DB_TEST = """
import pytest

def test_database_ok():
    assert True

def test_postgis_query():
    pytest.skip("PostGIS not available")
"""


@pytest.fixture(autouse=True)
def _plugin_importable(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("WANGGE_ALLOW_SKIPS", raising=False)


@pytest.fixture
def run(pytester):
    pytester.makepyfile(test_db=SKIPPING_DB_TEST)

    def _run(*args: str):
        return pytester.runpytest_subprocess("-p", "tests.no_skips", *args)

    return _run


def test_a_skipped_database_test_fails_the_run(run):
    result = run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED test_db.py::test_postgis_query:*PostGIS not available*"])


def test_a_skip_under_xdist_fails_the_run(run):
    result = run("-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 skipped*"])


def test_the_same_run_passes_without_the_skip(pytester):
    pytester.makepyfile(test_db="def test_database_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "tests.no_skips")
    assert result.ret == pytest.ExitCode.OK


def test_allow_skips_is_an_explicit_opt_out(run, monkeypatch):
    monkeypatch.setenv("WANGGE_ALLOW_SKIPS", "1")
    assert run().ret == pytest.ExitCode.OK

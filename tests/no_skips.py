"""A pytest plugin that fails the run when any test was skipped.

A skipped database or browser test hides exactly the failures those tests exist to find
(PostGIS not starting, Chromium missing), and a green run that skipped them says nothing. So
every skip turns the exit status into a failure, and the summary lists what was skipped and
why. ``WANGGE_ALLOW_SKIPS=1`` lifts this for a developer's partial run on a machine without
the full stack; CI never sets it.
"""

from __future__ import annotations

import os

import pytest

ALLOW_SKIPS_ENV = "WANGGE_ALLOW_SKIPS"


def _skipped_reports(config: pytest.Config) -> list[pytest.TestReport]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return []
    return list(reporter.stats.get("skipped", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller decides
        return
    if os.environ.get(ALLOW_SKIPS_ENV) == "1":
        return
    skipped = _skipped_reports(session.config)
    if skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(ALLOW_SKIPS_ENV) == "1":
        return
    skipped = _skipped_reports(config)
    if not skipped:
        return
    terminalreporter.section("skipped tests fail this run", sep="=", red=True, bold=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.line(f"SKIPPED {report.nodeid}: {reason}", red=True)
    terminalreporter.line(
        f"{len(skipped)} 个测试被跳过，本次运行判为失败 / {len(skipped)} skipped: the run fails "
        f"(set {ALLOW_SKIPS_ENV}=1 only for a partial local run)",
        red=True,
    )

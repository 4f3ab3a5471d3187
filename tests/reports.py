"""Reports that tests add to the run's closing summary (suite results, precision tables).

Printing from a test is lost under pytest-xdist (the workers' output is not shown), so a test
calls :func:`add_report`; each worker hands its reports to the controller, which prints them
as sections at the end of the run.
"""

from __future__ import annotations

REPORTS: list[tuple[str, str]] = []


def add_report(title: str, text: str) -> None:
    """Show ``text`` under ``title`` in the summary at the end of the test run."""
    REPORTS.append((title, text))

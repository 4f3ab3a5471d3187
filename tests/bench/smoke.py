"""Run a benchmark module's ``--smoke`` case as a user would, and return what it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_smoke(module: str, results: Path) -> str:
    """``python -m MODULE --smoke --results RESULTS`` from the repository root; the text of
    the results file (the run must exit 0)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return results.read_text()

"""What the differential harness ran, for the summary line at the end of the test session.

Each test adds to :data:`COUNTS` in its own process; under pytest-xdist the workers send
theirs to the controller (``workeroutput``), which adds them up (see tests/conftest.py).
"""

from __future__ import annotations

from collections import Counter

COUNTS: Counter[str] = Counter()

LABELS = (("tilings", "tilings"), ("defects", "planted defects"), ("points", "points"))


def count(**amounts: int) -> None:
    """Add ``tilings=``, ``defects=``, ``points=`` to the session's counts."""
    COUNTS.update(amounts)


def summary(counts: Counter[str]) -> str:
    """The line printed at the end of the session."""
    parts = ", ".join(f"{counts.get(key, 0)} {label}" for key, label in LABELS)
    return f"differential harness: {parts}"

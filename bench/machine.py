"""What a benchmark run records about where it ran, and where the results go."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

import numpy as np

__all__ = ["RESULTS", "machine"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> dict:
    """The machine, the library versions and the load average at the time of the run."""
    import duckdb
    import geopandas
    import shapely

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "geopandas": geopandas.__version__,
        "duckdb": duckdb.__version__,
        "load": ", ".join(f"{v:.1f}" for v in os.getloadavg()),
    }

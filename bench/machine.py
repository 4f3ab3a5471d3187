"""What a benchmark run records about where it ran, and where the results go."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

import numpy as np

__all__ = ["RESULTS", "keep_other_sections", "machine", "replace_section"]

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


def _sections(text: str) -> list[tuple[str, str]]:
    """``(heading, block)`` for every ``## `` section of a results file, in order."""
    parts = re.split(r"(?m)^(?=## )", text)
    return [(part.split("\n", 1)[0], part) for part in parts if part.startswith("## ")]


def replace_section(results: Path, heading: str, lines: list[str]) -> None:
    """Put ``lines`` (starting with the ``## heading`` line) into ``results`` in place of the
    section of that heading, else before ``## Problems``; every other section is kept."""
    text = results.read_text() if results.is_file() else "# Benchmark results\n\n"
    start = text.find(f"## {heading}")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1 if end >= 0 else len(text) :]
    anchor = text.find("## Problems")
    block = "\n".join(lines) + "\n"
    text = text[:anchor] + block + "\n" + text[anchor:] if anchor >= 0 else text + "\n" + block
    results.write_text(text)


def keep_other_sections(results: Path, new_text: str) -> str:
    """``new_text`` followed by the sections of the existing ``results`` it does not write
    (those recorded by the separate runs: Dask, whole commands, base map, city, ...)."""
    if not results.is_file():
        return new_text
    written = {heading for heading, _ in _sections(new_text)}
    kept = [block for heading, block in _sections(results.read_text()) if heading not in written]
    return new_text.rstrip("\n") + "\n\n" + "".join(kept) if kept else new_text

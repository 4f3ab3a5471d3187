"""Benchmarks of the web side (issue 6 parts 2 and 4): HTTP look-ups and map rendering.

* ``GET /grids/locate`` under uvicorn on loopback: a bounded load (fixed request count,
  fixed concurrency), requests per second and latency percentiles, beside a bare FastAPI
  endpoint on the same server stack (the framework's own ceiling) and the in-process
  ``GridIndex.locate`` rate, so one can see which of the two limits the HTTP path.
* Maps: time and size of the division map of 10k grids and of the heat-map of 1M incidents
  (aggregated on the server), and whether the heat-map stays within what a browser handles.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["http_locate", "map_rendering"]

ROOT = Path(__file__).resolve().parents[1]

_HELLO_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/hello")
def hello(lon: float, lat: float) -> dict:
    return {"lon": lon, "lat": lat}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} in {timeout_s} s")


async def _load(base: str, path: str, params: list[dict], concurrency: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    queue = iter(params)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for p in queue:
            start = time.perf_counter()
            response = await client.get(path, params=p)
            latencies.append(time.perf_counter() - start)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def _serve(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _best_round(rounds: list[dict]) -> dict:
    """The round with the highest throughput, with every round's rate and the CPU cost."""
    best = dict(max(rounds, key=lambda r: r["per_s"]))
    best["rounds_per_s"] = [r["per_s"] for r in rounds]
    best["cpu_ms_per_request"] = float(np.median([r["cpu_ms_per_request"] for r in rounds]))
    return best


def http_locate(
    *, requests: int = 2000, concurrency: int = 16, seed: int = 7, rounds: int = 3
) -> dict:
    """Load ``GET /grids/locate`` on the demo community; compare with a bare endpoint.

    Both servers run at once and take turns, ``rounds`` rounds of ``requests`` requests each,
    so that a busy spell of a shared machine falls on both; each keeps its best round. The
    server's CPU time per request (from /proc) is reported too: it hardly depends on what
    else the machine is doing.
    """
    import geopandas as gpd

    from api.demo import load_demo
    from gis.assign import GridIndex

    grids = gpd.read_file(ROOT / "data" / "demo" / "grids.geojson")
    minx, miny, maxx, maxy = grids.total_bounds
    rng = np.random.default_rng(seed)
    lon = rng.uniform(minx, maxx, requests)
    lat = rng.uniform(miny, maxy, requests)
    params = [{"lon": f"{x:.8f}", "lat": f"{y:.8f}"} for x, y in zip(lon, lat, strict=True)]

    index = GridIndex(grids)
    start = time.perf_counter()
    for x, y in zip(lon, lat, strict=True):
        index.locate(x, y)
    in_process = requests / (time.perf_counter() - start)

    out: dict = {"in_process_per_s": in_process, "concurrency": concurrency, "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="wangge-bench-web-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'demo.db'}"
        load_demo(db_url=db)
        hello = Path(tmp) / "hello_app.py"
        hello.write_text(_HELLO_APP)
        servers: dict[str, tuple[subprocess.Popen, str, str]] = {}
        try:
            for name, cmd, path, env in (
                (
                    "locate",
                    [str(Path(sys.executable).parent / "wangge"), "serve", "--db", db,
                     "--port", "{port}", "--log-level", "warning"],
                    "/grids/locate",
                    None,
                ),
                (
                    "bare",
                    [sys.executable, "-m", "uvicorn", "hello_app:app", "--port", "{port}",
                     "--log-level", "warning"],
                    "/hello",
                    {**os.environ, "PYTHONPATH": tmp},
                ),
            ):  # fmt: skip
                port = _free_port()
                proc = _serve([a.replace("{port}", str(port)) for a in cmd], env)
                servers[name] = (proc, f"http://127.0.0.1:{port}", path)
            for proc, base, path in servers.values():
                _wait_until_up(f"{base}{path}?lon=121.485&lat=31.24", proc)
            results: dict[str, list[dict]] = {name: [] for name in servers}
            for _ in range(rounds):
                for name, (proc, base, path) in servers.items():
                    cpu = _cpu_s(proc.pid)
                    result = asyncio.run(_load(base, path, params, concurrency))
                    used = _cpu_s(proc.pid) - cpu
                    result["cpu_ms_per_request"] = 1000 * used / result["requests"]
                    results[name].append(result)
            for name, rs in results.items():
                out[name] = _best_round(rs)
        finally:
            for proc, _, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
    return out


def map_rendering(data: Path, *, n_incidents: int = 1_000_000) -> dict:
    """Division map of the grids in ``data`` and heat-map of ``n_incidents`` of its houses."""
    import geopandas as gpd
    import pandas as pd

    from maps.incidents import MAX_BROWSER_POINTS, render_incident_heatmap
    from maps.web import render_division_map, save_html

    grids = gpd.read_parquet(data / "grids.parquet").to_crs(4326)
    houses = gpd.read_parquet(data / "houses.parquet").to_crs(4326)
    houses = houses.iloc[:n_incidents]
    incidents = pd.DataFrame({"lon": houses.geometry.x, "lat": houses.geometry.y})
    out: dict = {"grids": len(grids), "incidents": len(incidents)}
    with tempfile.TemporaryDirectory(prefix="wangge-bench-maps-") as tmp:
        start = time.perf_counter()
        path = save_html(render_division_map(grids), Path(tmp) / "division.html")
        out["division_s"] = time.perf_counter() - start
        out["division_mib"] = path.stat().st_size / 2**20
        start = time.perf_counter()
        path = save_html(render_incident_heatmap(incidents), Path(tmp) / "heat.html")
        out["heatmap_s"] = time.perf_counter() - start
        out["heatmap_mib"] = path.stat().st_size / 2**20
    out["browser_points_cap"] = MAX_BROWSER_POINTS
    return out

"""Page load in Chromium: the public page with the offline base map, and without one.

``python -m bench.pageload [--rounds N] [--smoke]`` serves a copy of the demo database with
uvicorn on loopback (the demo's base map cut from its OSM extract by ``maps.basemap``) and
opens ``/public`` on a phone screen (390×844, device scale 2) in a fresh Chromium context per
round (empty cache), every request beyond the server aborted. Timed from ``goto`` until:

- *grids shown* — the grids drawn on the map (the page's own work);
- *base map drawn* — every offline tile in view loaded and painted (protomaps-leaflet).

Beside them, the same page on a server without a base map (the page as before: grids on a
blank background), so the cost of the base map is the difference. Requests and bytes of
``/tiles/base`` per load are counted. Prints JSON and a Markdown table (copy it into
``bench/RESULTS.md`` by hand; ``--results PATH`` also writes the table there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["page_load"]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update"]  # fmt: skip
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}  # fmt: skip
GRIDS_SHOWN = "document.querySelectorAll('#public-map path.leaflet-interactive').length > 0"
BASE_DRAWN = (
    "(() => { const m = window.wangge && wangge.maps['public-map'];"
    " if (!m || !m.wanggeBasemap || !m.wanggeBasemap.layers.offline) return false;"
    " const l = m.wanggeBasemap.layers.offline;"
    " return l._loading === false && Object.keys(l._tiles).length > 0; })()"
)


@contextlib.contextmanager
def _serve(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait(page, expression: str, timeout_s: float = 60.0) -> float:
    """Poll ``expression`` until truthy; the monotonic time it first was."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not reached in {timeout_s} s: {expression}")
        time.sleep(0.005)
    return time.monotonic()


def _one_load(browser, base: str, with_base: bool) -> dict:
    context = browser.new_context(locale="zh-CN", **PHONE)
    context.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith(base + "/") else r.abort()
    )
    tiles = {"requests": 0, "bytes": 0}

    def count(response) -> None:
        if "/tiles/base/" in response.url:
            tiles["requests"] += 1
            with contextlib.suppress(Exception):
                tiles["bytes"] += len(response.body())

    page = context.new_page()
    page.on("response", count)
    start = time.monotonic()
    page.goto(f"{base}/public")
    grids = _wait(page, GRIDS_SHOWN) - start
    drawn = (_wait(page, BASE_DRAWN) - start) if with_base else None
    context.close()
    return {"grids_s": grids, "base_s": drawn, **tiles}


def _stats(values: list[float]) -> dict:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {"median_ms": 1000 * statistics.median(values), "p95_ms": 1000 * p95}


def page_load(rounds: int = 20) -> dict:
    """Time ``rounds`` loads of ``/public`` with and without the offline base map."""
    from playwright.sync_api import sync_playwright

    from api.app import create_app
    from api.services.demo import load_demo
    from gis.osm import read_osm_layers
    from maps.basemap import build_basemap

    with tempfile.TemporaryDirectory(prefix="wangge-bench-pageload-") as tmp:
        tmp = Path(tmp)
        load_demo(db_url=f"sqlite:///{tmp / 'demo.db'}")
        archive = build_basemap(
            read_osm_layers([ROOT / "data" / "demo" / "osm_bund.gpkg"]),
            tmp / "base.pmtiles",
            processes=1,
        ).path
        results = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, basemap in (("with base map", archive), ("no base map", None)):
                db = tmp / f"{name.replace(' ', '_')}.db"
                shutil.copyfile(tmp / "demo.db", db)
                app = create_app(f"sqlite:///{db}", secret_key="bench-" + "0" * 32,
                                 basemap=basemap)  # fmt: skip
                with _serve(app) as base:
                    _one_load(browser, base, basemap is not None)  # warm the server
                    loads = [_one_load(browser, base, basemap is not None) for _ in range(rounds)]
                results[name] = {
                    "rounds": rounds,
                    "grids_shown": _stats([r["grids_s"] for r in loads]),
                    "base_drawn": _stats([r["base_s"] for r in loads]) if basemap else None,
                    "tile_requests": statistics.median(r["requests"] for r in loads),
                    "tile_kib": statistics.median(r["bytes"] for r in loads) / 1024,
                }
            browser.close()
    return results


def _table(results: dict) -> str:
    rows = ["| page | grids shown median / p95 (ms) | base map drawn median / p95 (ms) "
            "| tile requests | tile KiB |", "|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        base = r["base_drawn"]
        drawn = f"{base['median_ms']:.0f} / {base['p95_ms']:.0f}" if base else "—"
        grids = r["grids_shown"]
        rows.append(
            f"| /public, {name} | {grids['median_ms']:.0f} / {grids['p95_ms']:.0f} | {drawn} "
            f"| {r['tile_requests']:.0f} | {r['tile_kib']:.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="3 rounds")
    parser.add_argument("--results", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    results = page_load(3 if args.smoke else args.rounds)
    print(json.dumps(results, ensure_ascii=False, indent=2))
    table = "## Page load (Chromium, phone)\n\n" + _table(results) + "\n"
    print(table)
    if args.results:
        args.results.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

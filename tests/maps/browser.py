"""What the browser tests share: a real uvicorn in a thread, and numbered screenshots."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("WANGGE_TEST_ARTEFACTS", ROOT / "out" / "test-artefacts"))


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


class Shots:
    """Numbered screenshots of the steps of one test, kept as artefacts."""

    def __init__(self, page, folder: str, name: str) -> None:
        self.page, self.folder, self.n = page, ARTEFACTS / folder / name, 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str, page=None) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{step}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path

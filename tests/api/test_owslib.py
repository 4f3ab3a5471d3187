"""A standard OGC client (OWSLib) against ``wangge serve`` on loopback: list and page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.db.models import Role
from api.services.demo import load_demo
from tests.api.routes.conftest import PASSWORD, add_users

ROOT = Path(__file__).resolve().parents[2]
SERVE = (
    "import typer; from api.cli.serve import serve_command; app = typer.Typer();"
    "app.callback()(lambda: None); app.command('serve')(serve_command); app()"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('owslib') / 'served.db'}"
    load_demo(db_url=url)
    add_users(url, {"viewer": (Role.STREET_DEPT, [])})
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE,
            "serve",
            "--db",
            url,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=os.environ | {"WANGGE_SECRET_KEY": "owslib-test-0123456789abcdef0123456789"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):  # at most 15 s
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if proc.poll() is not None:
                pytest.fail(f"wangge serve exited: {proc.stderr.read().decode()}")
        else:
            pytest.fail("wangge serve did not answer /health in 15 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_owslib_lists_collections_and_pages_items(server):
    from owslib.ogcapi.features import Features

    api = Features(f"{server}/ogc/")
    assert set(api.feature_collections()) == {"grids"}  # houses: signed-in callers only
    assert [c["id"] for c in api.collections()["collections"]] == ["grids"]
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in api.conformance()["conformsTo"]
    )
    first = api.collection_items("grids", limit=5)
    assert first["numberMatched"] == 12 and first["numberReturned"] == 5
    codes = [f["properties"]["code"] for f in first["features"]]
    offset = 5
    while offset < first["numberMatched"]:
        page = api.collection_items("grids", limit=5, offset=offset)
        codes += [f["properties"]["code"] for f in page["features"]]
        offset += 5
    assert len(set(codes)) == 12
    box = api.collection_items("grids", bbox=[121.48, 31.22, 121.49, 31.23], limit=100)
    assert 0 < box["numberReturned"] < 12


def test_owslib_houses_need_a_token(server):
    from owslib.ogcapi.features import Features

    anonymous = Features(f"{server}/ogc/")
    with pytest.raises(RuntimeError, match="needs a bearer token"):
        anonymous.collection_items("houses", limit=1)
    token = httpx.post(
        f"{server}/auth/token", data={"username": "viewer", "password": PASSWORD}
    ).json()["access_token"]
    signed = Features(f"{server}/ogc/", headers={"Authorization": f"Bearer {token}"})
    try:
        assert set(signed.feature_collections()) == {"grids", "houses"}
        page = signed.collection_items("houses", limit=50)
        assert page["numberReturned"] == 50 and page["numberMatched"] > 50
        item = signed.collection_item("houses", page["features"][0]["id"])
        assert item["id"] == page["features"][0]["id"]
    finally:
        # OWSLib keeps headers in a module-level dict: do not leak the token to other tests
        from owslib.ogcapi import REQUEST_HEADERS

        REQUEST_HEADERS.pop("Authorization", None)

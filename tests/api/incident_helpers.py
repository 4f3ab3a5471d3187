"""Shared set-up of the incident tests: a database with the demo and the workflow's users,
an app through TestClient, and a real uvicorn server on loopback (for threads and clients
that speak HTTP themselves)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import sqlalchemy as sa
import uvicorn

from api.app import create_app
from api.db.engine import make_engine, session_factory
from api.db.models import Role, Staff
from api.services.crud import create_user
from api.services.demo import load_demo
from gis.assign import assign_points
from tests.api.routes.conftest import PASSWORD, ManualClock, _module_database

DATA = Path(__file__).resolve().parents[2] / "data" / "demo"
CITY_POST = "城建管理岗"


@dataclass
class IncidentEnv:
    """A database with the demo, users of each workflow role, and their ids."""

    url: str
    users: dict[str, int]
    city_staff_id: int
    grid_codes: list[str]


def build_env(db_url: str, tmp_path_factory):
    """Generator: a module database with the demo loaded and the users (cleaned up after)."""
    gen = _module_database(db_url, tmp_path_factory)
    url = next(gen)
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        city = session.scalar(
            sa.select(Staff).where(Staff.role == "post_staff", Staff.post == CITY_POST)
        )
        grids = sorted(
            session.scalars(sa.text("SELECT code FROM grids WHERE division = 'current'"))
        )
        users = {}
        for name, role, grid_codes, staff_id in (
            ("gw", Role.GRID_WORKER, [grids[0]], None),
            ("post_cj", Role.POST_STAFF, [], city.id),
            ("head", Role.COMMUNITY_HEAD, [grids[0]], None),  # community via the grid served
            ("street", Role.STREET_DEPT, [], None),
            ("boss", Role.ADMIN, [], None),
        ):
            user = create_user(
                session,
                username=name,
                password=PASSWORD,
                role=role,
                grid_codes=grid_codes,
                staff_id=staff_id,
            )
            session.flush()
            users[name] = user.id
        env = IncidentEnv(url=url, users=users, city_staff_id=city.id, grid_codes=grids)
    engine.dispose()
    yield env
    next(gen, None)


_ENVS: dict[str, IncidentEnv] = {}


def shared_env(db_url: str, tmp_path_factory, request) -> IncidentEnv:
    """One :func:`build_env` per engine and test process, shared by the incident test
    modules (loading the demo is the slow part); dropped at the end of the session. Tests
    on it must tolerate each other's incidents."""
    if db_url not in _ENVS:
        gen = build_env(db_url, tmp_path_factory)
        _ENVS[db_url] = next(gen)
        request.getfixturevalue("session_cleanups").callback(next, gen, None)
    return _ENVS[db_url]


def demo_house(index: int = 0) -> tuple[str, float, float, str]:
    """(address, lon, lat, grid code) of a demo door plate; the grid from gis.assign on the
    demo's grid file (independent of the database)."""
    houses = pd.read_csv(DATA / "houses.csv")
    grids = gpd.read_file(DATA / "grids.geojson")
    row = houses.iloc[index]
    point = gpd.GeoDataFrame(geometry=gpd.points_from_xy([row.lon], [row.lat]), crs=4326)
    code = assign_points(point.to_crs(grids.crs), grids).iloc[0]
    return str(row.address), float(row.lon), float(row.lat), str(code)


def token(client, username: str) -> str:
    response = client.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def make_app(url: str, clock: ManualClock | None = None, **kwargs):
    return create_app(
        url,
        secret_key="incident-tests-" + uuid.uuid4().hex,
        clock=clock or ManualClock(dt.datetime.now(dt.UTC)),
        **kwargs,
    )


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread."""

    def __init__(self, app) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

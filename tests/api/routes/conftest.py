"""Fixtures of the API tests: an app on a database of its own, users of every role, tokens.

``api_db`` is a fresh database per test (``fresh_db_url``) for tests that write;
``demo_db`` is one database per module with the demo community loaded (its division in
effect from 2026-01-01) and one user of every role, for read-mostly tests such as the role
table. Users are made with the service functions, tokens through ``POST /auth/token``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.db.engine import init_db, make_engine, session_factory
from api.db.models import Role
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.registry.validators import id_check_character
from tests.conftest import postgis_database

PASSWORD = "correct-horse-42"
DEMO_GRIDS = ("310101002005001", "310101002005002")  # two grids of the demo division


def valid_id_number(serial: int, *, birth: str = "19800101", region: str = "310101") -> str:
    """An 18-character ID number with a correct GB 11643 check character (male when odd)."""
    first17 = f"{region}{birth}{serial % 1000:03d}"
    return first17 + id_check_character(first17)


class ManualClock:
    """A clock the test moves (UTC)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += dt.timedelta(**kwargs)


@dataclass
class Api:
    """A running app (TestClient), its database URL, clock and users' tokens."""

    client: TestClient
    url: str
    clock: ManualClock
    tokens: dict[str, str] = field(default_factory=dict)

    def login(self, username: str, password: str = PASSWORD):
        return self.client.post("/auth/token", data={"username": username, "password": password})

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = self.login(username)
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    def as_(self, username: str | None) -> dict[str, str]:
        return {} if username is None else {"Authorization": f"Bearer {self.token(username)}"}

    def forget_sign_ins(self) -> None:
        """Delete the recorded sign-in attempts (so one test's failures do not lock the next)."""
        engine = make_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM login_attempts"))
        finally:
            engine.dispose()

    def count(self, *tables: str) -> dict[str, int]:
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                return {
                    t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in tables
                }
        finally:
            engine.dispose()


def add_users(url: str, users: dict[str, tuple[Role, list[str]]]) -> None:
    engine = make_engine(url)
    init_db(engine)
    with session_factory(engine).begin() as session:
        for name, (role, grids) in users.items():
            create_user(session, username=name, password=PASSWORD, role=role, grid_codes=grids)
    engine.dispose()


# One user per role; the grid worker serves the first demo grid only.
ROLE_USERS = {
    role.value: (role, [DEMO_GRIDS[0]] if role == Role.GRID_WORKER else []) for role in Role
}


@pytest.fixture
def make_api() -> Iterator:
    """Factory: ``make_api(url, **create_app kwargs) -> Api`` (closed after the test)."""
    opened: list[TestClient] = []

    def make(url: str, **kwargs) -> Api:
        clock = kwargs.pop("clock", None) or ManualClock(dt.datetime.now(dt.UTC))
        app = create_app(url, secret_key="test-secret-" + uuid.uuid4().hex, clock=clock, **kwargs)
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return Api(client=client, url=url, clock=clock)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def demo_api(fresh_db_url, make_api) -> Api:
    """A fresh database with the demo loaded and one user per role (clock: now)."""
    load_demo(db_url=fresh_db_url)
    add_users(fresh_db_url, ROLE_USERS)
    return make_api(fresh_db_url)


def _module_database(db_url: str, tmp_path_factory) -> Iterator[str]:
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('api') / 'module.db'}"
        return
    with postgis_database(db_url, prefix="api") as url:
        yield url


@pytest.fixture(scope="session")
def shared_api(db_url, tmp_path_factory) -> Iterator[Api]:
    """One database per engine and worker: demo loaded, one user per role, a running app.

    Tests on it must tolerate each other's rows (count differences, unique values).
    """
    gen = _module_database(db_url, tmp_path_factory)
    url = next(gen)
    load_demo(db_url=url)
    add_users(url, ROLE_USERS)

    clock = ManualClock(dt.datetime.now(dt.UTC))
    app = create_app(
        url,
        secret_key="module-secret-0123456789abcdef0123456789",
        clock=clock,
    )
    with TestClient(app) as client:
        yield Api(client=client, url=url, clock=clock)
    next(gen, None)


@pytest.fixture
def api(shared_api) -> Iterator[Api]:
    """The shared app, its clock set to now and its sign-in attempts cleared after the test."""
    shared_api.clock.now = dt.datetime.now(dt.UTC)
    yield shared_api
    shared_api.clock.now = dt.datetime.now(dt.UTC)
    shared_api.forget_sign_ins()


@pytest.fixture(scope="module")
def incident_env(db_url, tmp_path_factory, request):
    """The shared incident database of this engine (``incident_helpers.shared_env``)."""
    from tests.api.incident_helpers import shared_env

    return shared_env(db_url, tmp_path_factory, request)


@pytest.fixture(scope="module")
def incident_server(incident_env):
    """A real uvicorn on loopback serving the app on :func:`incident_env`."""
    from tests.api.incident_helpers import LiveServer, make_app

    with LiveServer(make_app(incident_env.url)) as live:
        yield live

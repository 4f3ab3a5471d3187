"""Schemathesis (v4) against the app's own OpenAPI schema: every operation, signed in as an
admin with a real token from ``POST /auth/token``; no 5xx, and responses match the schema.

Bounded for CI: a few derandomized examples per operation on one SpatiaLite database with the
demo loaded (auth and validation do not depend on the engine; the role and route tests run
both engines).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.app import create_app
from api.db.engine import make_engine, session_factory
from api.db.models import Role, User
from api.services.demo import load_demo
from tests.api.routes.conftest import PASSWORD, ManualClock, add_users

MAX_EXAMPLES = 6
FUZZER = "fuzz-admin"


# The schema is loaded when the module is imported (schemathesis' lazy ``from_fixture`` does not
# work with this pytest), so the app is made here, on a database folder of this process;
# the fixture fills the database and runs the app's lifespan.
FOLDER = Path(tempfile.mkdtemp(prefix="wangge-fuzz-"))
URL = f"sqlite:///{FOLDER / 'fuzz.db'}"




APP = create_app(
    URL,
    secret_key="fuzz-secret-0123456789abcdef0123456789abcd",
    clock=ManualClock(dt.datetime.now(dt.UTC)),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_app():
    load_demo(db_url=URL)
    add_users(URL, {FUZZER: (Role.ADMIN, [])})
    with TestClient(APP) as client:  # runs the lifespan: the database is open
        token = client.post("/auth/token", data={"username": FUZZER, "password": PASSWORD})
        assert token.status_code == 200, token.text
        APP.state.fuzz_token = token.json()["access_token"]
        engine = make_engine(URL)
        with session_factory(engine)() as session:
            APP.state.fuzz_user_id = session.query(User.id).filter_by(username=FUZZER).scalar()
        engine.dispose()
        yield APP
    shutil.rmtree(FOLDER, ignore_errors=True)


def test_token_url_is_declared(fuzz_app):
    flows = fuzz_app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/auth/token"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation(case, fuzz_app):
    # the fuzzer must not lock itself out (deactivate or demote its own account)
    if case.path_parameters and case.path_parameters.get("user_id") == fuzz_app.state.fuzz_user_id:
        case.path_parameters["user_id"] = fuzz_app.state.fuzz_user_id + 10_000
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_app.state.fuzz_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )

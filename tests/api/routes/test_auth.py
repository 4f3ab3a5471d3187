"""Sign-in: tokens, expiry on the app's clock, wrong passwords, the per-username slowdown."""

from __future__ import annotations

import pytest

from api.db.models import Role
from tests.api.routes.conftest import PASSWORD, ManualClock, add_users


@pytest.fixture
def api(fresh_db_url, make_api):
    add_users(fresh_db_url, {"ada": (Role.ADMIN, [])})
    return make_api(fresh_db_url)


def test_token_then_me_then_expiry(fresh_db_url, make_api):
    add_users(fresh_db_url, {"ada": (Role.ADMIN, [])})
    import datetime as dt

    clock = ManualClock()
    api = make_api(fresh_db_url, clock=clock, token_ttl=dt.timedelta(minutes=30))
    response = api.login("ada")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 30 * 60
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = api.client.get("/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["username"] == "ada" and me.json()["role"] == "admin"
    clock.advance(minutes=29, seconds=59)
    assert api.client.get("/auth/me", headers=headers).status_code == 200
    clock.advance(seconds=1)
    expired = api.client.get("/auth/me", headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert expired.headers["www-authenticate"] == "Bearer"


def test_no_token_bad_token_wrong_password(api):
    assert api.client.get("/auth/me").status_code == 401
    forged = api.client.get("/auth/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401 and "invalid token" in forged.json()["detail"]
    wrong = api.login("ada", "not-the-password")
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "用户名或密码错误 / incorrect username or password"}
    assert api.login("nobody", PASSWORD).status_code == 401
    # a token signed with another key is refused
    other = api.client.post("/auth/token", data={"username": "ada", "password": PASSWORD})
    token = other.json()["access_token"]
    assert (
        api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    )


def test_token_endpoint_is_declared_as_oauth2_password_flow(api):
    schema = api.client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    flows = next(iter(schemes.values()))["flows"]
    assert flows["password"]["tokenUrl"] == "/auth/token"
    assert "/auth/token" in schema["paths"]
    assert api.client.get("/docs").status_code == 200


def test_failed_and_successful_logins_are_audited(api):
    add_users(api.url, {"audrey": (Role.AUDITOR, [])})
    api.login("ada", "wrong-password")
    api.login("ada")
    # the admin may not read the audit (separation of duties); the auditor does
    assert api.client.get("/audit", headers=api.as_("ada")).status_code == 403
    rows = api.client.get("/audit", headers=api.as_("audrey")).json()["data"]
    rows = [r for r in rows if r["action"] != "login" or r["username"] == "ada"]
    actions = [r["action"] for r in rows]
    assert actions[:2] == ["login_failed", "login"]

"""Sign-in: tokens, expiry on the app's clock, wrong passwords, the per-username slowdown."""

from __future__ import annotations

import pytest

from api.db.models import Role
from api.security import LoginThrottle
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


def test_failed_logins_are_slowed_per_username(fresh_db_url, make_api):
    add_users(fresh_db_url, {"ada": (Role.ADMIN, []), "bob": (Role.PLANNER, [])})
    waited: list[float] = []
    t = [1000.0]

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    throttle = LoginThrottle(
        free_failures=3,
        base_delay_s=1.0,
        max_delay_s=8.0,
        window_s=600,
        clock=lambda: t[0],
        sleep=sleep,
    )
    api = make_api(fresh_db_url, throttle=throttle)
    for _ in range(7):
        assert api.login("ada", "wrong-password").status_code == 401
    # attempts 1-4 wait nothing (3 free failures); then 1, 2, 4 s
    assert waited == [1.0, 2.0, 4.0]
    assert throttle.applied == [("ada", 1.0), ("ada", 2.0), ("ada", 4.0)]
    # another user is not slowed
    assert api.login("bob").status_code == 200
    assert waited == [1.0, 2.0, 4.0]
    # the next attempt for ada waits 8 s (capped), even with the right password; success resets
    assert api.login("ada").status_code == 200
    assert waited[-1] == 8.0
    assert api.login("ada", "wrong-password").status_code == 401
    assert waited[-1] == 8.0 and len(waited) == 4
    # failures older than the window are forgotten
    for _ in range(5):
        api.login("bob", "wrong-password")
    t[0] += 601
    before = len(waited)
    assert api.login("bob").status_code == 200
    assert len(waited) == before


def test_failed_and_successful_logins_are_audited(api):
    api.login("ada", "wrong-password")
    api.login("ada")
    rows = api.client.get("/audit", headers=api.as_("ada")).json()["data"]
    actions = [r["action"] for r in rows]
    assert actions[:2] == ["login_failed", "login"]

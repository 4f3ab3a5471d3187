"""Sign-in that answers and cannot lock others out; the password policy; the TOTP second
factor; sessions that end (logout, deactivation, password change)."""

from __future__ import annotations

import time

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.core.password_policy import password_problems
from api.db.engine import make_engine
from api.db.models import Role
from tests.api.routes.conftest import PASSWORD, add_users


def _audit_actions(url: str, username: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT action, detail FROM audit_log ORDER BY id")).all()
    finally:
        engine.dispose()
    import json

    out = []
    for action, detail in rows:
        detail = json.loads(detail) if isinstance(detail, str) else detail
        if (detail or {}).get("username") == username:
            out.append(action)
    return out


def test_thirty_failures_answer_at_once_then_429_and_a_trusted_address_still_signs_in(
    fresh_db_url, make_api
):
    add_users(fresh_db_url, {"ada": (Role.PLANNER, [])})
    api = make_api(fresh_db_url)
    home = TestClient(api.client.app, client=("10.0.0.2", 50000))  # where ada signs in daily
    assert home.post("/auth/token", data={"username": "ada", "password": PASSWORD}).is_success
    answers, slowest = [], 0.0
    for _ in range(30):  # from another address (the test client's)
        start = time.perf_counter()
        r = api.login("ada", "wrong-password")
        slowest = max(slowest, time.perf_counter() - start)
        answers.append((r.status_code, r.headers.get("retry-after")))
    # 5 failures, then refused at once with a wait the client can read
    assert [s for s, _ in answers] == [401] * 5 + [429] * 25
    waits = [int(w) for s, w in answers if s == 429]
    assert all(0 < w <= 900 for w in waits)
    assert slowest < 5.0  # a hang detector only: nothing holds the connection
    # the right password from the attacked address is refused too...
    assert api.login("ada").status_code == 429
    # ...but not from the address ada signed in from before
    assert home.post("/auth/token", data={"username": "ada", "password": PASSWORD}).is_success
    actions = _audit_actions(fresh_db_url, "ada")
    assert actions.count("login_failed") == 5 and actions.count("login_locked") == 26
    # once the window has passed, the attacked address may try again
    api.clock.advance(seconds=901)
    assert api.login("ada").status_code == 200


def test_many_accounts_from_one_address_lock_the_address(fresh_db_url, make_api):
    add_users(fresh_db_url, {"bob": (Role.PLANNER, [])})
    api = make_api(fresh_db_url)
    codes = [api.login(f"guess{i}", "wrong-password").status_code for i in range(21)]
    assert codes == [401] * 20 + [429]
    assert api.login("bob").status_code == 429  # this address is locked for everyone
    other = TestClient(api.client.app, client=("10.0.0.9", 50000))
    assert other.post("/auth/token", data={"username": "bob", "password": PASSWORD}).is_success


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("12345678", "at least 10"),
        ("abcdefghijkl", "three of"),
        ("Pe#5gz29ptzmse", "common password"),
        ("Ada-Lovelace-1815", "user name"),
    ],
)
def test_weak_passwords_are_refused(password, why, fresh_db_url, make_api):
    add_users(fresh_db_url, {"root": (Role.ADMIN, [])})
    api = make_api(fresh_db_url)
    assert any(why in p for p in password_problems(password, username="ada-lovelace"))
    r = api.client.post(
        "/users",
        headers=api.as_("root"),
        json={"username": "ada-lovelace", "password": password, "role": "admin"},
    )
    assert r.status_code == 422 and why in r.json()["detail"]


def test_the_common_password_list_is_the_shipped_one():
    # "12345678" and "password" are in it; a long random phrase is not
    assert "common password" in " ".join(password_problems("password"))
    assert password_problems("Tq7#vLm2-Kz9!") == []


def test_an_admin_without_a_second_factor_cannot_finish_signing_in(fresh_db_url, make_api):
    add_users(fresh_db_url, {"root": (Role.ADMIN, []), "wendy": (Role.PLANNER, [])})
    api = make_api(fresh_db_url, second_factor_roles=["admin"])
    r = api.login("root")
    assert r.status_code == 401 and r.headers["x-wangge-second-factor"] == "enrol"
    assert "access_token" not in r.json()
    assert api.login("wendy").status_code == 200  # a role that does not need it
    enrolled = CliRunner().invoke(cli_app, ["user", "totp", "root", "--db", fresh_db_url, "--json"])
    assert enrolled.exit_code == 0, enrolled.output
    secret = pyotp.parse_uri(__import__("json").loads(enrolled.output)["uri"]).secret
    r = api.login("root")
    assert r.status_code == 401 and r.headers["x-wangge-second-factor"] == "required"
    code = pyotp.TOTP(secret).at(api.clock())
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = api.client.post("/auth/token", data={"username": "root", "password": PASSWORD,
                                               "otp": wrong})  # fmt: skip
    assert bad.status_code == 401
    ok = api.client.post("/auth/token", data={"username": "root", "password": PASSWORD,
                                              "otp": code})  # fmt: skip
    assert ok.status_code == 200 and ok.json()["access_token"]


# --------------------------------------------------------------------------- sessions


def _me(api, token: str) -> int:
    return api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_tokens_die_on_logout_deactivation_and_password_change(fresh_db_url, make_api):
    add_users(fresh_db_url, {"root": (Role.ADMIN, []), "ada": (Role.PLANNER, []),
                             "bob": (Role.PLANNER, [])})  # fmt: skip
    api = make_api(fresh_db_url)
    # logout: this token dies, a second session of the same user lives on
    first, second = (api.login("ada").json()["access_token"] for _ in range(2))
    out = api.client.post("/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert out.status_code == 204
    assert (_me(api, first), _me(api, second)) == (401, 200)
    # deactivation: every token of the user dies (reactivating does not revive them)
    bob = api.login("bob").json()["access_token"]
    users = {u["username"]: u["id"] for u in api.client.get(
        "/users", headers=api.as_("root")).json()["data"]}  # fmt: skip
    assert api.client.patch(f"/users/{users['bob']}", headers=api.as_("root"),
                            json={"active": False}).status_code == 200  # fmt: skip
    assert _me(api, bob) == 401
    api.client.patch(f"/users/{users['bob']}", headers=api.as_("root"), json={"active": True})
    assert _me(api, bob) == 401
    # a password change (own, or by an admin) kills the earlier tokens
    new_password = "Another-Horse-77"
    changed = api.client.post(
        "/auth/password",
        headers={"Authorization": f"Bearer {second}"},
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 204, changed.text
    assert _me(api, second) == 401
    fresh = api.login("ada", new_password).json()["access_token"]
    assert _me(api, fresh) == 200
    assert api.client.patch(f"/users/{users['ada']}", headers=api.as_("root"),
                            json={"password": "Third-Horse-99"}).status_code == 200  # fmt: skip
    assert _me(api, fresh) == 401
    # a weak new password is refused and the old tokens stay as they were
    latest = api.login("ada", "Third-Horse-99").json()["access_token"]
    weak = api.client.post(
        "/auth/password",
        headers={"Authorization": f"Bearer {latest}"},
        json={"current_password": "Third-Horse-99", "new_password": "12345678"},
    )
    assert weak.status_code == 422 and _me(api, latest) == 200


def _otp_login(api, username: str, code: str):
    return api.client.post(
        "/auth/token", data={"username": username, "password": PASSWORD, "otp": code}
    )


def test_a_totp_code_is_good_once(fresh_db_url, make_api):
    """A code accepted once is refused when replayed within its window, and so is an earlier
    code still inside the drift window; the next step's code is accepted."""
    add_users(fresh_db_url, {"root": (Role.ADMIN, [])})
    api = make_api(fresh_db_url, second_factor_roles=["admin"])
    enrolled = CliRunner().invoke(cli_app, ["user", "totp", "root", "--db", fresh_db_url, "--json"])
    totp = pyotp.parse_uri(__import__("json").loads(enrolled.output)["uri"])
    code = totp.at(api.clock())
    assert _otp_login(api, "root", code).status_code == 200
    replay = _otp_login(api, "root", code)  # same instant: well within the 30 s window
    assert replay.status_code == 401 and "TOTP" in replay.json()["detail"]
    api.clock.advance(seconds=30)
    # the previous step's code is still within the drift window but older than the used one
    assert totp.verify(code, for_time=api.clock(), valid_window=1)
    assert _otp_login(api, "root", code).status_code == 401
    assert _otp_login(api, "root", totp.at(api.clock())).status_code == 200


def test_an_unenrolled_admin_enrols_with_the_restricted_token(fresh_db_url, make_api):
    """After the right password an unenrolled admin gets an enrolment token that opens only
    /auth/totp/enrol and /confirm; confirming with the app's code gives a full token."""
    add_users(fresh_db_url, {"root": (Role.ADMIN, [])})
    api = make_api(fresh_db_url, second_factor_roles=["admin"])
    assert api.client.post("/auth/token", data={"username": "root", "password": "wrong"}
                           ).json().get("enrolment_token") is None  # fmt: skip
    refused = api.login("root")
    assert refused.status_code == 401 and refused.headers["x-wangge-second-factor"] == "enrol"
    assert "access_token" not in refused.json()
    restricted = {"Authorization": f"Bearer {refused.json()['enrolment_token']}"}
    for method, path in [("GET", "/auth/me"), ("GET", "/users"), ("GET", "/audit"),
                         ("POST", "/auth/logout"), ("GET", "/residents")]:  # fmt: skip
        assert api.client.request(method, path, headers=restricted).status_code == 401, path
    enrol = api.client.post("/auth/totp/enrol", headers=restricted)
    assert enrol.status_code == 200
    totp = pyotp.parse_uri(enrol.json()["uri"])
    assert totp.secret == enrol.json()["secret"]
    wrong = f"{(int(totp.at(api.clock())) + 1) % 1_000_000:06d}"
    bad = api.client.post("/auth/totp/confirm", headers=restricted, json={"code": wrong})
    assert bad.status_code == 422
    code = totp.at(api.clock())
    done = api.client.post("/auth/totp/confirm", headers=restricted, json={"code": code})
    assert done.status_code == 200
    full = {"Authorization": f"Bearer {done.json()['access_token']}"}
    assert api.client.get("/auth/me", headers=full).json()["username"] == "root"
    # the enrolment token is spent, and the code used to confirm cannot sign in again
    assert api.client.post("/auth/totp/enrol", headers=restricted).status_code == 401
    assert _otp_login(api, "root", code).status_code == 401
    api.clock.advance(seconds=30)
    assert _otp_login(api, "root", totp.at(api.clock())).status_code == 200
    # an enrolment token expires after ten minutes
    add_users(fresh_db_url, {"root2": (Role.ADMIN, [])})
    late = {"Authorization": f"Bearer {api.login('root2').json()['enrolment_token']}"}
    api.clock.advance(minutes=10, seconds=1)
    assert api.client.post("/auth/totp/enrol", headers=late).status_code == 401

"""Attacks on the running server, over loopback only: a real uvicorn on a free port of
127.0.0.1 over a fresh database (both engines), attacked with httpx as a client would.

- Brute force: 30 wrong passwords for one account from 127.0.0.1 are answered 401 and then
  ``429`` with a ``Retry-After`` in seconds, each answer within the client's 5 s timeout (a
  hang fails the test); the account's owner, who signed in before from 127.0.0.2 (the
  client's source address is bound there), still signs in; a spray of 21 user names from
  127.0.0.3 locks that address only.
- Stolen or forged tokens: after ``POST /auth/logout`` the token is refused everywhere (and a
  second logout with it too); a deactivated user's token and a token from before a password
  change are refused; tokens signed with another key, with ``alg: none``, with a changed
  role, or cut short are refused.
- Headers: every answer of every GET route of the app (from the auth table), as anonymous and
  as a signed-in user, and every refusal of every POST route, carries the security headers
  and no CORS header, whatever its status, and is never a 5xx.

Every loop here is bounded by a count; nothing is sent beyond 127.0.0.0/8.
"""

from __future__ import annotations

import base64
import json
import re

import httpx
import jwt
import pytest

from api.app import create_app
from api.auth_table import POLICY
from api.db.models import Role
from api.routes.throttle import SignInLimits
from api.services.demo import load_demo
from tests.api.routes.conftest import PASSWORD, ROLE_USERS, add_users
from tests.maps.browser import serve_in_thread

SECRET = "attack-test-secret-0123456789abcdef0123"
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def server(fresh_db_url):
    load_demo(db_url=fresh_db_url)
    add_users(fresh_db_url, ROLE_USERS)
    app = create_app(
        fresh_db_url,
        secret_key=SECRET,
        throttle=SignInLimits(account_failures=5, address_failures=20, window_s=900),
        second_factor_roles=[],
    )
    with serve_in_thread(app) as base:
        yield base


def _client(base: str, source: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections leave from ``source`` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=base, transport=transport, timeout=5.0)


def _sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/token", data={"username": username, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_brute_force_gets_429_at_once_and_cannot_lock_the_owner_out(server):
    with _client(server, "127.0.0.2") as home, _client(server, "127.0.0.1") as attacker:
        assert _sign_in(home, "planner").status_code == 200  # where the owner signs in
        answers = [_sign_in(attacker, "planner", f"guess-{i}") for i in range(30)]
        statuses = [a.status_code for a in answers]
        assert statuses == [401] * 5 + [429] * 25
        waits = [int(a.headers["retry-after"]) for a in answers[5:]]
        assert all(0 < w <= 900 for w in waits)
        assert all("access_token" not in a.text for a in answers)
        # the right password from the attacking address is refused as well...
        assert _sign_in(attacker, "planner").status_code == 429
        # ...and the owner, at home, is not locked out
        assert _sign_in(home, "planner").status_code == 200
    with _client(server, "127.0.0.3") as sprayer, _client(server, "127.0.0.4") as other:
        spray = [_sign_in(sprayer, f"user{i}", "Summer2026!").status_code for i in range(21)]
        assert spray == [401] * 20 + [429]
        assert _sign_in(sprayer, "auditor").status_code == 429  # the address is locked
        assert _sign_in(other, "auditor").status_code == 200  # the account is not


OTHER_KEY = "not-the-key-of-this-server-0123456789"


def _forged(claims: dict, *, key: str = OTHER_KEY, alg: str = "HS256") -> str:
    if alg == "none":
        def part(obj: dict) -> str:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    return jwt.encode(claims, key, algorithm=alg)


def test_tokens_die_and_forgeries_are_refused(server):
    with _client(server) as client:
        token = _sign_in(client, "grid_worker").json()["access_token"]
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 200
        assert client.post("/auth/logout", headers=_bearer(token)).status_code == 204
        for method, path in (("GET", "/auth/me"), ("GET", "/residents"), ("GET", "/houses"),
                             ("POST", "/auth/logout"), ("GET", "/incidents/inbox")):  # fmt: skip
            r = client.request(method, path, headers=_bearer(token))
            assert r.status_code == 401, (method, path, r.status_code)

        # a token from before a password change, and a deactivated user's token
        token = _sign_in(client, "planner").json()["access_token"]
        changed = client.post("/auth/password", headers=_bearer(token), json={
            "current_password": PASSWORD, "new_password": "Brand-New-Pass-42"})  # fmt: skip
        assert changed.status_code == 204
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 401
        admin = _bearer(_sign_in(client, "admin").json()["access_token"])
        worker = _sign_in(client, "post_staff").json()["access_token"]
        users = {u["username"]: u["id"] for u in client.get("/users", headers=admin).json()["data"]}
        off = client.patch(f"/users/{users['post_staff']}", headers=admin, json={"active": False})
        assert off.status_code == 200
        assert client.get("/auth/me", headers=_bearer(worker)).status_code == 401

        # forgeries, built from a real token's claims
        real = _sign_in(client, "street_dept").json()["access_token"]
        claims = jwt.decode(real, options={"verify_signature": False})
        assert client.get("/auth/me", headers=_bearer(real)).status_code == 200
        forged = [
            _forged(claims),  # another key
            _forged(claims, alg="none"),  # no signature at all
            _forged({**claims, "role": Role.ADMIN.value}, key=SECRET[::-1]),
            real[:-4],  # cut short
            real.replace(".", ". ", 1),
        ]
        head, body, sig = real.split(".")
        swapped = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        swapped["sub"] = "admin"  # the real signature over a changed body
        forged.append(f"{head}.{_forged(swapped, alg='none').split('.')[1]}.{sig}")
        for token in forged:
            r = client.get("/users", headers=_bearer(token))
            assert r.status_code == 401, token


def _filled(template: str) -> str:
    values = {"collection_id": "grids", "community": "外滩源社区", "kind": "houses",
              "worker": "grid_worker", "code": "0302"}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), template)


def _check_headers(answer: httpx.Response) -> None:
    where = f"{answer.request.method} {answer.request.url.path} → {answer.status_code}"
    assert answer.status_code < 500, where
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (where, name)
    policy = answer.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy.split(
        "style-src")[0], where  # fmt: skip
    assert not any(h.startswith("access-control-") for h in answer.headers), where
    assert "strict-transport-security" not in answer.headers, where  # plain HTTP here


def test_every_answer_carries_the_headers(server):
    gets = sorted(p for m, p in POLICY if m == "GET")
    posts = sorted(p for m, p in POLICY if m == "POST")
    origin = {"Origin": "http://evil.invalid"}
    seen = 0
    with _client(server) as client:
        token = _sign_in(client, "community_head").json()["access_token"]
        for path in gets:  # bounded: one request per route and caller
            for headers in ({}, _bearer(token)):
                _check_headers(client.get(_filled(path), headers={**headers, **origin}))
                seen += 1
        for path in posts:
            if path in ("/auth/token", "/auth/logout"):
                continue
            _check_headers(client.post(_filled(path), json={}, headers=origin))
            seen += 1
        preflight = client.options("/residents", headers={
            **origin, "Access-Control-Request-Method": "GET"})  # fmt: skip
        _check_headers(preflight)
        for path in ("/static/app/app.js", "/static/vendor/leaflet/leaflet.css", "/nowhere"):
            _check_headers(client.get(path))
    assert seen > 150  # every route was asked, twice for the GETs

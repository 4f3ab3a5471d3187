"""The security headers of :mod:`api.routes.headers` on every kind of answer.

JSON answers, errors (401, 404, 413 from the body limit, 422), static files, the staff pages
and the folium maps all carry the CSP, ``frame-ancestors 'none'``, ``X-Frame-Options``,
``nosniff`` and ``Referrer-Policy``; HSTS only over TLS or when the deployment says it is
behind TLS; no CORS header answers a cross-origin request. The hashes in a map's policy are
checked against hashes computed here with :mod:`hashlib` from the scripts that
:mod:`html.parser` (not the regular expression of :mod:`api.routes.headers`) finds in the page.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.headers import DEFAULT_CSP, inline_script_hashes
from api.services.demo import load_demo

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _check_common(answer) -> None:
    for name, value in EXPECTED.items():
        assert answer.headers.get(name) == value, (answer.request.url, name)
    policy = answer.headers["content-security-policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert not any(n.startswith("access-control-") for n in answer.headers)


@pytest.fixture
def served(fresh_db_url, make_api):
    load_demo(db_url=fresh_db_url)
    return make_api(fresh_db_url, max_body_bytes=1024)


def test_every_kind_of_answer_carries_the_headers(served):
    client = served.client
    origin = {"Origin": "https://evil.example"}
    answers = [
        client.get("/health", headers=origin),
        client.get("/grids", headers=origin),
        client.options("/grids", headers={**origin, "Access-Control-Request-Method": "GET"}),
        client.get("/auth/me"),  # 401
        client.get("/no-such-page"),  # 404
        client.post(
            "/divisions/validate", content=b"x" * 4096, headers={"Content-Type": "application/json"}
        ),  # 413
        client.post("/auth/token", data={}),  # 422
        client.get("/static/app/app.js"),
        client.get("/app/"),
        client.get("/public"),
        client.get("/planner/外滩源社区"),
        client.get("/maps/division/外滩源社区"),
        client.get("/docs"),
    ]
    statuses = [a.status_code for a in answers]
    assert statuses[3:7] == [401, 404, 413, 422]
    for answer in answers:
        _check_common(answer)
        assert "strict-transport-security" not in answer.headers  # plain HTTP
    # the staff pages need nothing beyond the default policy
    for page in answers[8:11]:
        assert page.headers["content-security-policy"] == DEFAULT_CSP
        assert "<script>" not in page.text and "style=" not in page.text


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self._in = tag == "script" and "src" not in dict(attrs)
        if self._in:
            self.inline.append("")

    def handle_data(self, data):
        if self._in:
            self.inline[-1] += data

    def handle_endtag(self, tag):
        self._in = False


def test_a_map_allows_exactly_its_own_scripts(served):
    answer = served.client.get("/maps/validation/外滩源社区")
    parser = _Scripts()
    parser.feed(answer.text)
    expected = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in dict.fromkeys(parser.inline)
    ]
    assert expected
    assert [f"'{h}'" for h in inline_script_hashes(answer.text)] == expected
    script_src = next(
        d for d in answer.headers["content-security-policy"].split("; ")
        if d.startswith("script-src ")
    )  # fmt: skip
    assert script_src.split()[1:] == ["'self'", *expected]


def test_hsts_only_over_tls_or_behind_it(fresh_db_url, monkeypatch):
    app = create_app(fresh_db_url, secret_key="k" * 32)
    with TestClient(app, base_url="https://wangge.test") as client:
        assert client.get("/health").headers["strict-transport-security"].startswith("max-age=")
    with TestClient(app, base_url="http://wangge.test") as client:
        assert "strict-transport-security" not in client.get("/health").headers
    from api.core.config import get_settings

    monkeypatch.setenv("WANGGE_BEHIND_TLS", "true")
    get_settings.cache_clear()
    try:
        behind = create_app(fresh_db_url, secret_key="k" * 32)
        with TestClient(behind, base_url="http://wangge.test") as client:
            assert "strict-transport-security" in client.get("/health").headers
    finally:
        monkeypatch.delenv("WANGGE_BEHIND_TLS")
        get_settings.cache_clear()


def test_csp_reports_are_taken_and_garbage_refused(served, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="api.csp")
    report = {"csp-report": {"document-uri": "http://x/app/", "violated-directive": "script-src",
                             "blocked-uri": "inline", "original-policy": "p" * 500}}  # fmt: skip
    ok = served.client.post("/csp-report", content=json.dumps(report),
                            headers={"Content-Type": "application/csp-report"})  # fmt: skip
    assert ok.status_code == 204
    logged = [r.getMessage() for r in caplog.records if r.name == "api.csp"]
    assert len(logged) == 1 and "script-src" in logged[0] and "ppppp" not in logged[0]
    for bad in (b"not json", b"[]", b'{"csp-report": 3}', b"{}"):
        assert served.client.post("/csp-report", content=bad).status_code == 400

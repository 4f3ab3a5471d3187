"""The staff and public pages: served, offline, and their data-testids documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.services.incidents.workflow import ACTIONS
from api.services.registry.codes import code_table
from maps.assets import STATIC_DIR, remote_links

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "pages.md"
APP_DIR = STATIC_DIR / "app"
PAGES = [
    "/app/",
    "/app/worker",
    "/app/inbox",
    "/app/incident/1",
    "/app/dashboard",
    "/app/approvals",
    "/app/import",
    "/app/audit",
    "/public",
]
SCRIPTS = sorted(APP_DIR.glob("*.js"))  # app.js and the scripts of single pages
# names the JS builds from a prefix (checked in the browser test where they are used)
BUILT = {f"action-{a}" for a in ACTIONS} | {"inbox-row-link", "my-report-row-link"}


def _documented(planner: bool = False) -> set[str]:
    """The testids the table documents: the app pages' rows, or the planner page's rows."""
    section = DOC.read_text(encoding="utf-8").split("## `data-testid` attributes", 1)[1]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell, page = line.split("|")[1:3]
            if page.strip().startswith("`/planner") == planner:
                names |= set(re.findall(r"`([\w-]+)`", first_cell))
    return names


def _in_files() -> set[str]:
    html = (APP_DIR / "app.html").read_text(encoding="utf-8")
    js = "\n".join(p.read_text(encoding="utf-8") for p in SCRIPTS)
    names = set(re.findall(r'data-testid="([\w-]+)"', html))
    names |= set(re.findall(r'"data-testid": "([\w-]+)"(?!\s*\+)', js))
    names |= set(re.findall(r'tid\("([\w-]+)"[,)]', js))
    names |= set(re.findall(r'incidentRow\(item, "([\w-]+)"\)', js))  # the row's own testid
    return names


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_served_without_remote_links(api, path):
    response = api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert remote_links(html) == []
    assert "{{" not in html  # every placeholder filled
    assert 'lang="zh-CN"' in html
    assert 'name="viewport"' in html
    # every local asset the page links exists and is served
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert api.client.get(src).status_code == 200, src


def test_page_config_names_the_page(api):
    html = api.client.get("/app/incident/42").text
    assert '"page": "incident"' in html and '"incident": 42' in html
    assert '"page": "public"' in api.client.get("/public").text


def test_app_without_slash_redirects(api):
    response = api.client.get("/app", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/app/")


def test_incident_page_needs_a_number(api):
    assert api.client.get("/app/incident/abc").status_code == 422


def test_scripts_and_styles_have_no_remote_urls():
    assert {p.name for p in SCRIPTS} >= {"app.js", "dashboard.js", "staff_admin.js", "audit.js"}
    for path in [*SCRIPTS, APP_DIR / "app.css", APP_DIR / "app.html"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path.name


def test_every_testid_in_the_pages_is_documented_and_back():
    documented, present = _documented(), _in_files()
    assert present - documented == set()
    assert documented - present - BUILT == set()
    assert documented >= BUILT
    js = (APP_DIR / "app.js").read_text(encoding="utf-8")
    assert '"action-" + action' in js and 'testid + "-link"' in js
    planner_html = (STATIC_DIR / "planner" / "planner.html").read_text(encoding="utf-8")
    planner_ids = set(re.findall(r'data-testid="([\w-]+)"', planner_html))
    assert _documented(planner=True) and _documented(planner=True) <= planner_ids


def test_every_resident_field_has_an_error_slot():
    html = (APP_DIR / "app.html").read_text(encoding="utf-8")
    fields = re.findall(r'data-testid="resident-(?!error|submit|result|form)([\w]+)"', html)
    assert "id_number" in fields and "birth_date" in fields
    for field in [f for f in fields if f != "house"] + ["house_id"]:
        assert f'data-testid="resident-error-{field}"' in html, field


def test_codes_are_the_code_tables(api):
    response = api.client.get("/app/codes")
    assert response.status_code == 200
    body = response.json()
    for name in ("gender", "ethnicity", "population_type", "staff_role"):
        assert [r["code"] for r in body["tables"][name]] == list(code_table(name).codes)
    categories = {c["code"]: c for c in body["incident_categories"]}
    csv_rows = (ROOT / "data" / "codes" / "incident_categories.csv").read_text("utf-8")
    lines = csv_rows.strip().splitlines()[1:]
    assert len(categories) == len(lines)
    major = {line.split(",")[0] for line in lines if line.split(",")[4] == "major"}
    assert {c for c, v in categories.items() if v["severity"] == "major"} == major


def test_public_page_carries_no_registry_data(api):
    html = api.client.get("/public").text
    # only the public part of the shell: no staff form, no registry field
    assert 'data-testid="public-form"' in html
    for staff_only in ("login-form", "resident-form", "report-form", "inbox-list", "action-form"):
        assert staff_only not in html
    assert "id_number" not in html and "owner" not in html


@pytest.mark.parametrize(
    ("path", "section"),
    [("/app/", "home"), ("/app/worker", "resident-form"), ("/app/inbox", "inbox-list"),
     ("/app/incident/3", "action-form")],
)  # fmt: skip
def test_staff_pages_carry_sign_in_and_their_own_part(api, path, section):
    html = api.client.get(path).text
    assert 'data-testid="login-form"' in html
    assert f'data-testid="{section}"' in html
    assert 'data-testid="public-form"' not in html
    others = {"home", "resident-form", "inbox-list", "action-form"} - {section}
    assert not any(f'data-testid="{o}"' in html for o in others)

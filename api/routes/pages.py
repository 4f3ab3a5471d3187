"""The staff and public web pages: ``/app/...`` for staff, ``/public`` for everyone.

Every page is one HTML shell (``maps/static/app/app.html``) with one plain JS file and one CSS
file (no build step), Leaflet served from ``/static/vendor/`` (no CDN). The pages hold no data:
the JS signs in through ``POST /auth/token``, keeps the token in ``localStorage`` and calls
the JSON API with it, so each page shows exactly what the API lets the signed-in role see.

- ``/app/``: sign-in, then the role's home (links to the pages the role uses);
- ``/app/worker``: grid worker — my grids on a map; register or update a house (located by a
  tap on the map or GPS; its grid from the spatial join) and a resident (each refused field's
  reason beside it; ID numbers and phones stay masked unless an approved access request
  unmasks them, an audited read); special-status records of a resident; an unmask request
  (``POST /access-requests``) and its state; report an incident (category, description, a
  tap on the map, GPS or an address); my reports; my patrol hours this ISO week against the
  weekly requirement, per day;
- ``/app/inbox``: the signed-in user's queue (overdue first, then by deadline);
- ``/app/incident/{id}``: one incident with map, history and the actions the role may take;
- ``/app/dashboard``: community head and street department — incident heat-map and counts
  per grid for a month, on-time share, patrol-hour compliance and the monthly score (JS in
  ``dashboard.js``; the data comes from ``/dashboard/data``, ``/incidents/stats``,
  ``/incidents`` and ``/grids``, so a role the API refuses sees no numbers);
- ``/app/approvals``: community head, street department — the pending access requests to
  unmasked resident data (who asked, the record masked, the purpose, when), approved for a
  number of hours or rejected with a reason (``/access-requests``; never one's own: the API
  refuses), and the decided ones below;
- ``/app/import``: community head — upload an XLSX/CSV register (houses, residents, staff) of
  a community to ``POST /imports/{kind}``; a refused file's rows and reasons as a table
  (nothing written), or what was imported; the blank template from
  ``GET /imports/{kind}/template`` (JS of both in ``staff_admin.js``);
- ``/app/audit``: auditor — the append-only audit log (``GET /audit``), newest first and
  paged, filtered by action, user name and Asia/Shanghai dates; each row's time, user, action,
  record and detail (JS in ``audit.js``);
- ``/public``: no sign-in — an address or a tap on the map gives the grid, its code and name
  and its published staff contacts; never any resident or house data.

``/app/codes`` gives the enumerations the forms offer (code tables, the fields of each
special-status category, incident categories).
The ``data-testid`` attributes are listed in ``docs/pages.md``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.routes.deps import SessionDep
from api.routes.schemas.registry import FormCodesAnswer
from api.routes.tiles import page_basemap, page_response
from api.services.incidents.categories import list_categories
from api.services.registry.codes import code_table, special_status_fields
from maps.assets import STATIC_DIR

__all__ = ["FORM_CODE_TABLES", "PAGES", "PAGE_TEMPLATE", "router"]

router = APIRouter(tags=["pages"])

PAGE_TEMPLATE = STATIC_DIR / "app" / "app.html"
PAGES = (
    "home",
    "worker",
    "inbox",
    "incident",
    "dashboard",
    "approvals",
    "import",
    "audit",
    "public",
)
FORM_CODE_TABLES = (
    "gender",
    "ethnicity",
    "education",
    "relation_to_householder",
    "marital_status",
    "political_status",
    "population_type",
    "house_type",
    "house_use",
    "special_status",
    "staff_role",
)
# each page's part of the shell: <!--page:NAME--> ... <!--/page:NAME-->
_SECTION = re.compile(r"<!--page:(\w+)-->.*?<!--/page:\1-->\n?", re.S)
_TITLES = {
    "home": "网格化管理 · 登录",
    "worker": "网格员工作台",
    "inbox": "待办事件",
    "incident": "事件详情",
    "dashboard": "社区看板",
    "approvals": "查阅申请审批",
    "import": "批量导入登记表",
    "audit": "审计日志",
    "public": "我家归哪个网格",
}


def _render(request: Request, page: str, *, incident_id: int | None = None) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    config = {
        "root": root,
        "page": page,
        "incident": incident_id,
        "idleTimeoutSeconds": request.app.state.idle_timeout_s,
        "basemap": page_basemap(request),
    }
    # JSON inside a <script>: "</" must not end the element
    config_json = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    html = PAGE_TEMPLATE.read_text(encoding="utf-8")
    keep = {"public"} if page == "public" else {"login", page}
    html = _SECTION.sub(lambda m: m.group(0) if m.group(1) in keep else "", html)
    html = html.replace("{{ROOT}}", root).replace("{{TITLE}}", _TITLES[page])
    html = html.replace("{{PAGE}}", page).replace("{{CONFIG_JSON}}", config_json)
    return page_response(request, html)


@router.get("/app", include_in_schema=False, response_class=RedirectResponse)
def app_root(request: Request) -> RedirectResponse:
    """``/app`` → ``/app/``."""
    root = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{root}/app/", status_code=307)


@router.get("/app/", response_class=HTMLResponse)
def home_page(request: Request) -> HTMLResponse:
    """登录与首页 / Sign-in and the home page of each role."""
    return _render(request, "home")


@router.get("/app/worker", response_class=HTMLResponse)
def worker_page(request: Request) -> HTMLResponse:
    """网格员工作台 / Grid worker: my grids, houses, residents and their special statuses,
    unmask requests, incident reports, this week's patrol hours."""
    return _render(request, "worker")


@router.get("/app/inbox", response_class=HTMLResponse)
def inbox_page(request: Request) -> HTMLResponse:
    """待办事件 / The signed-in user's incident queue."""
    return _render(request, "inbox")


@router.get("/app/incident/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: int) -> HTMLResponse:
    """事件详情与流转 / One incident: map, history, the actions the role may take."""
    return _render(request, "incident", incident_id=incident_id)


@router.get("/app/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request) -> HTMLResponse:
    """社区看板 / Dashboard: heat-map, counts per grid, on-time share, patrol, monthly score."""
    return _render(request, "dashboard")


@router.get("/app/approvals", response_class=HTMLResponse)
def approvals_page(request: Request) -> HTMLResponse:
    """查阅申请审批 / Approvers: pending access requests, approve (time-limited) or reject."""
    return _render(request, "approvals")


@router.get("/app/import", response_class=HTMLResponse)
def import_page(request: Request) -> HTMLResponse:
    """批量导入登记表 / Community head: upload a register; rejected rows and their reasons."""
    return _render(request, "import")


@router.get("/app/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> HTMLResponse:
    """审计日志 / Auditor: the audit log, newest first, filtered by action, user and dates."""
    return _render(request, "audit")


@router.get("/public", response_class=HTMLResponse)
def public_page(request: Request) -> HTMLResponse:
    """公众查询（无需登录）/ Public: which grid and who looks after an address or a point."""
    return _render(request, "public")


@router.get("/app/codes", response_model=FormCodesAnswer)
def form_codes(session: SessionDep) -> dict[str, Any]:
    """表单代码表 / Enumerations of the forms: code tables, the fields of each special-status
    category and incident categories (public)."""
    tables = {
        name: [{"code": r["code"], "name_zh": r["name_zh"]} for r in code_table(name).rows]
        for name in FORM_CODE_TABLES
    }
    status_fields = {
        category: [
            {
                "field": f.field,
                "label_zh": f.label_zh,
                "type": f.type,
                "required": f.required,
                "choices": list(f.choices),
            }
            for f in special_status_fields(category)
        ]
        for category in code_table("special_status").codes
    }
    categories = [
        {
            "code": c.code,
            "name_zh": c.name_zh,
            "parent": c.parent,
            "severity": c.severity,
            "post": c.post,
            "public": bool(c.public),
        }
        for c in list_categories(session)
    ]
    return {"tables": tables, "special_status_fields": status_fields,
            "incident_categories": categories}  # fmt: skip

"""Who may call each endpoint: the declared policy, and ``docs/auth.md`` generated from it.

:data:`POLICY` names, for every (method, path) of the app, who passes the gate: ``PUBLIC``
(anyone, no token), ``SIGNED_IN`` (any role; 401 without a token), ``API_KEY`` (an Open311
API key in the request; a bearer token does not help), or a set of roles (admin is always
allowed; other roles 403, no token 401). Notes give the finer rules applied inside (own
grids, masking, approvals). The test ``tests/api/test_auth_table.py`` checks that every route
of the app has a row and every row holds against the running app, and that
``docs/auth.md`` is what :func:`render` writes; regenerate it with
``python -m api.auth_table > docs/auth.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from api.db.models import Role

__all__ = ["API_KEY", "CALLERS", "POLICY", "PUBLIC", "SIGNED_IN", "Access", "app_routes", "render"]

PUBLIC, SIGNED_IN, API_KEY = "public", "signed_in", "api_key"
ANONYMOUS = "anonymous"
CALLERS = (ANONYMOUS, *(r.value for r in Role))
"""Columns of the table: no token, then each role."""


@dataclass(frozen=True)
class Access:
    """Who passes the gate of one endpoint (see the module docstring), and finer rules."""

    who: str | frozenset[str]
    note: str = ""

    def allows(self, caller: str) -> bool:
        """True if ``caller`` (a role or ``anonymous``) passes the gate."""
        if self.who == PUBLIC:
            return True
        if self.who in (SIGNED_IN,):
            return caller != ANONYMOUS
        if self.who == API_KEY:
            return False  # without the key nobody does
        return caller in self.who


def _roles(*roles: Role) -> frozenset[str]:
    return frozenset(r.value for r in roles) | {Role.ADMIN.value}


def _without_admin(*roles: Role) -> frozenset[str]:
    """Duties kept from the administrator (separation of duties)."""
    return frozenset(r.value for r in roles)


P, GW, PS, CH, SD, AU = (
    Role.PLANNER,
    Role.GRID_WORKER,
    Role.POST_STAFF,
    Role.COMMUNITY_HEAD,
    Role.STREET_DEPT,
    Role.AUDITOR,
)
_PLANNER = _roles(P)
_HOUSE_WRITERS = _roles(GW, CH)
_RESIDENT_READERS = _roles(GW, PS, CH, SD)
_APPROVERS = _without_admin(CH, SD)
_OWN_GRIDS = "grid workers: their own grids only (403 outside)"
_MASKED = "ID number and phone masked unless an approved access request covers the record"

POLICY: dict[tuple[str, str], Access] = {
    ("POST", "/auth/token"): Access(
        PUBLIC,
        "429 with Retry-After after too many failures of the account or from the address; "
        "roles of WANGGE_SECOND_FACTOR_ROLES also give a TOTP code (each code good once)",
    ),
    ("POST", "/auth/logout"): Access(SIGNED_IN, "revokes the token used"),
    ("GET", "/auth/me"): Access(SIGNED_IN),
    ("POST", "/auth/password"): Access(
        SIGNED_IN, "own password; the policy applies; every earlier token revoked"
    ),
    ("POST", "/auth/totp/enrol"): Access(
        SIGNED_IN, "also the enrolment token a sign-in gives an unenrolled second-factor role"
    ),
    ("POST", "/auth/totp/confirm"): Access(
        SIGNED_IN, "also the enrolment token; answers a full token"
    ),
    ("GET", "/health"): Access(PUBLIC),
    ("POST", "/csp-report"): Access(PUBLIC, "browsers' CSP violation reports; logged, not stored"),
    # web pages: the pages are public, their data calls need a token
    ("GET", "/app"): Access(PUBLIC, "redirect to /app/"),
    ("GET", "/app/"): Access(PUBLIC, "the page; its data calls need a token"),
    ("GET", "/app/worker"): Access(PUBLIC, "the page; its data calls need a token"),
    ("GET", "/app/inbox"): Access(PUBLIC, "the page; its data calls need a token"),
    ("GET", "/app/dashboard"): Access(PUBLIC, "the page; its data calls need a token"),
    ("GET", "/app/approvals"): Access(PUBLIC, "the page; its data calls need an approver"),
    ("GET", "/app/import"): Access(PUBLIC, "the page; its upload needs a community head"),
    ("GET", "/app/audit"): Access(PUBLIC, "the page; its data calls need an auditor"),
    ("GET", "/app/incident/{incident_id}"): Access(PUBLIC, "the page; its data calls need a token"),
    ("GET", "/public"): Access(PUBLIC),
    ("GET", "/app/codes"): Access(PUBLIC, "code tables and incident categories"),
    ("GET", "/communities"): Access(SIGNED_IN),
    ("GET", "/communities/{community_id}"): Access(SIGNED_IN),
    ("POST", "/communities"): Access(_PLANNER),
    ("PATCH", "/communities/{community_id}"): Access(_PLANNER),
    ("GET", "/grids"): Access(PUBLIC),
    ("GET", "/grids/locate"): Access(PUBLIC),
    ("GET", "/grids/{grid_id}"): Access(PUBLIC),
    ("PATCH", "/grids/{grid_id}"): Access(_PLANNER),
    ("GET", "/houses"): Access(SIGNED_IN, _OWN_GRIDS),
    ("GET", "/houses/{house_id}"): Access(SIGNED_IN, _OWN_GRIDS),
    ("GET", "/houses/{house_id}/history"): Access(SIGNED_IN, _OWN_GRIDS),
    ("POST", "/houses"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("PATCH", "/houses/{house_id}"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("DELETE", "/houses/{house_id}"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("GET", "/residents"): Access(_RESIDENT_READERS, f"{_OWN_GRIDS}; {_MASKED}"),
    ("GET", "/residents/{resident_id}"): Access(_RESIDENT_READERS, f"{_OWN_GRIDS}; {_MASKED}"),
    ("POST", "/residents"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("PATCH", "/residents/{resident_id}"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("DELETE", "/residents/{resident_id}"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("GET", "/residents/{resident_id}/history"): Access(_RESIDENT_READERS, _OWN_GRIDS),
    ("GET", "/residents/{resident_id}/special-statuses"): Access(_RESIDENT_READERS, _OWN_GRIDS),
    ("POST", "/residents/{resident_id}/special-statuses"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("GET", "/imports/{kind}/template"): Access(PUBLIC, "the blank XLSX template, no data"),
    ("POST", "/imports/{kind}"): Access(
        _roles(CH), "whole community, one transaction: all rows or none (unless only_good_rows)"
    ),
    ("GET", "/staff"): Access(SIGNED_IN),
    ("GET", "/staff/{staff_id}"): Access(SIGNED_IN),
    ("GET", "/staff/{staff_id}/photo"): Access(
        PUBLIC, "active staff with a photo only (404 otherwise); the image, nothing else"
    ),
    ("POST", "/staff"): Access(_roles(CH)),
    ("PATCH", "/staff/{staff_id}"): Access(_roles(CH)),
    ("DELETE", "/staff/{staff_id}"): Access(_roles(CH)),
    ("GET", "/posts"): Access(SIGNED_IN),
    ("POST", "/posts"): Access(_roles()),
    ("GET", "/departments"): Access(SIGNED_IN),
    ("POST", "/departments"): Access(_roles()),
    ("PUT", "/departments/{code}/members"): Access(_roles()),
    ("GET", "/routing"): Access(SIGNED_IN),
    ("PUT", "/routing"): Access(_roles(), "all rows checked first: all or nothing"),
    ("PUT", "/routing/categories/{code}"): Access(_roles()),
    ("GET", "/staff/{staff_id}/open-incidents"): Access(_roles(CH)),
    ("GET", "/users"): Access(_roles()),
    ("POST", "/users"): Access(_roles()),
    ("PATCH", "/users/{user_id}"): Access(_roles()),
    ("POST", "/access-requests"): Access(SIGNED_IN, "the request is audited"),
    ("GET", "/access-requests"): Access(SIGNED_IN, "approvers see all, others their own"),
    ("POST", "/access-requests/{request_id}/approve"): Access(
        _APPROVERS, "not one's own request; not the admin (separation of duties); audited"
    ),
    ("POST", "/access-requests/{request_id}/reject"): Access(_APPROVERS, "audited"),
    ("GET", "/audit"): Access(_without_admin(AU), "the auditor only (separation of duties)"),
    ("POST", "/divisions/validate"): Access(PUBLIC),
    ("GET", "/divisions"): Access(_PLANNER),
    ("POST", "/divisions"): Access(_PLANNER),
    ("POST", "/divisions/files"): Access(_PLANNER),
    ("GET", "/ogc/"): Access(PUBLIC),
    ("GET", "/ogc/api"): Access(PUBLIC, "OpenAPI 3.0; houses' paths to signed-in callers"),
    ("GET", "/ogc/conformance"): Access(PUBLIC),
    ("GET", "/ogc/collections"): Access(PUBLIC, "houses listed to signed-in callers only"),
    ("GET", "/ogc/collections/{collection_id}"): Access(PUBLIC),
    ("GET", "/ogc/collections/{collection_id}/items"): Access(
        PUBLIC, "grids public; houses: signed in (401 without a token), own grids"
    ),
    ("GET", "/ogc/collections/{collection_id}/items/{fid}"): Access(
        PUBLIC, "grids public; houses: signed in (401 without a token), own grids"
    ),
    ("GET", "/maps/division/{community}"): Access(PUBLIC, "staff phone numbers need sign-in"),
    ("GET", "/maps/validation/{community}"): Access(PUBLIC),
    ("GET", "/maps/incidents"): Access(
        PUBLIC, "public categories only, unless signed in as a manager"
    ),
    # the offline base map: OSM geography only, never residents or incidents
    ("GET", "/tiles/base/{z}/{x}/{y}.mvt"): Access(PUBLIC, "base geography (OSM) only; 204 empty"),
    ("GET", "/tiles/base/style.json"): Access(PUBLIC),
    ("GET", "/tiles/base.json"): Access(PUBLIC),
    ("GET", "/tiles/config"): Access(PUBLIC, "which base maps pages offer (no data)"),
    ("GET", "/geocode"): Access(PUBLIC),
    ("POST", "/geocode/batch"): Access(SIGNED_IN),
    ("GET", "/geocode/reverse"): Access(PUBLIC),
    ("GET", "/planner/{community}"): Access(PUBLIC, "the page; its data calls need a planner"),
    ("GET", "/planner/{community}/data"): Access(_PLANNER),
    ("POST", "/planner/{community}/validate"): Access(_PLANNER),
    ("POST", "/planner/{community}/repair"): Access(_PLANNER),
    ("POST", "/planner/{community}/divide"): Access(_PLANNER),
    ("POST", "/planner/{community}/edit/split"): Access(_PLANNER),
    ("POST", "/planner/{community}/edit/merge"): Access(_PLANNER),
    ("POST", "/planner/{community}/edit/move-boundary"): Access(_PLANNER),
    ("POST", "/planner/{community}/edit/split-along-road"): Access(_PLANNER),
    ("POST", "/planner/{community}/save"): Access(_PLANNER),
    ("GET", "/planner/{community}/versions"): Access(_PLANNER),
    ("GET", "/planner/{community}/versions/{version}"): Access(_PLANNER),
    ("POST", "/planner/{community}/versions/{version}/restore"): Access(_PLANNER),
    ("POST", "/incidents"): Access(_HOUSE_WRITERS, _OWN_GRIDS),
    ("GET", "/incidents"): Access(
        SIGNED_IN,
        "in full: managers all, post staff their items, grid workers their grids and reports; "
        "other staff the public view of public categories",
    ),
    ("GET", "/incidents/inbox"): Access(SIGNED_IN, "what waits for the caller's role"),
    ("GET", "/incidents/summary"): Access(
        SIGNED_IN,
        "non-public categories counted only where the caller reads the incident in full; "
        "public categories for everyone",
    ),
    ("GET", "/incidents/stats"): Access(
        SIGNED_IN,
        "non-public categories counted only where the caller reads the incident in full; "
        "public categories for everyone",
    ),
    ("GET", "/incidents/{incident_id}"): Access(
        SIGNED_IN, "within the caller's scope (404 outside it; public view of public categories)"
    ),
    ("GET", "/incidents/{incident_id}/history"): Access(SIGNED_IN, "within the caller's scope"),
    ("POST", "/incidents/{incident_id}/transitions"): Access(
        SIGNED_IN, "the workflow decides which role may take which step (403 otherwise)"
    ),
    ("POST", "/incidents/{incident_id}/photos"): Access(SIGNED_IN, "within the caller's scope"),
    ("GET", "/incidents/{incident_id}/slip.pdf"): Access(
        SIGNED_IN,
        "those who read the incident in full (404/403 otherwise); with WANGGE_PUBLIC_URL a "
        "handled, unrated incident's slip carries a new one-time rating link",
    ),
    ("POST", "/incidents/{incident_id}/reassign"): Access(
        _roles(CH), "own community; to an active staff member"
    ),
    ("GET", "/incidents/{incident_id}/photos/{photo_id}"): Access(
        PUBLIC, "Open311 media_url: public categories only (404 otherwise); ids must match"
    ),
    ("GET", "/open311/{rest:path}"): Access(PUBLIC, "no such endpoint: 404/405 in its format"),
    ("POST", "/open311/{rest:path}"): Access(PUBLIC, "no such endpoint: 404/405 in its format"),
    ("GET", "/open311/discovery.json"): Access(PUBLIC),
    ("GET", "/open311/discovery.xml"): Access(PUBLIC),
    ("GET", "/open311/v2/services.json"): Access(PUBLIC),
    ("GET", "/open311/v2/services/{code}.json"): Access(PUBLIC),
    ("GET", "/open311/v2/requests.json"): Access(
        PUBLIC, "public categories only, texts redacted, never the reporter"
    ),
    ("GET", "/open311/v2/requests/{request_id}.json"): Access(
        PUBLIC, "public categories only (404 otherwise), texts redacted"
    ),
    ("GET", "/open311/v2/tokens/{token}.json"): Access(PUBLIC),
    ("POST", "/open311/v2/requests.json"): Access(API_KEY, "api_key of an Open311 client"),
    ("GET", "/open311/v2/services.xml"): Access(PUBLIC),
    ("GET", "/open311/v2/services/{code}.xml"): Access(PUBLIC),
    ("GET", "/open311/v2/requests.xml"): Access(PUBLIC, "no personal data of reporters"),
    ("GET", "/open311/v2/requests/{request_id}.xml"): Access(PUBLIC),
    ("GET", "/open311/v2/tokens/{token}.xml"): Access(PUBLIC),
    ("POST", "/open311/v2/requests.xml"): Access(API_KEY, "api_key of an Open311 client"),
    ("POST", "/patrol/tracks"): Access(_roles(GW, CH, SD), "grid workers: their own tracks"),
    ("GET", "/patrol/workers/{worker}"): Access(_roles(GW, CH, SD), "grid workers: themselves"),
    ("POST", "/patrol/work-log"): Access(_roles(GW, CH, SD), "grid workers: their own log"),
    ("GET", "/patrol/workers/{worker}/week.pdf"): Access(
        _roles(GW, CH, SD), "grid workers: themselves"
    ),
    ("POST", "/patrol/manual"): Access(_roles(GW, CH, SD), "grid workers: their own hours"),
    ("GET", "/patrol/manual"): Access(_roles(GW, CH, SD), "grid workers: their own entries"),
    ("POST", "/patrol/manual/{entry_id}/approve"): Access(
        _roles(CH, SD), "community heads: their own community; never one's own entry"
    ),
    ("POST", "/patrol/manual/{entry_id}/reject"): Access(
        _roles(CH, SD), "community heads: their own community; never one's own entry"
    ),
    ("GET", "/exports/{kind}"): Access(
        _roles(CH, SD),
        "community heads: their own community; residents/special masked unless unmask=true "
        "and approved requests cover every resident (403 otherwise), audited",
    ),
    ("POST", "/assessment/draws"): Access(_roles(SD)),
    ("PUT", "/assessment/department-scores"): Access(_roles(SD)),
    ("POST", "/assessment/field-data"): Access(_roles(SD)),
    ("POST", "/assessment/points"): Access(_roles(SD)),
    ("GET", "/assessment/results"): Access(_roles(CH, SD)),
    ("GET", "/assessment/report"): Access(_roles(CH, SD), "ID and phone numbers masked"),
    ("GET", "/dashboard/data"): Access(_roles(CH, SD)),
    # supervision and public opinion: satisfaction, one-time rating links, surveys
    ("POST", "/incidents/{incident_id}/satisfaction"): Access(
        _roles(GW, PS, CH, SD),
        "those who read the incident in full; handled (resolved/closed) incidents only; one "
        "record each (409)",
    ),
    ("GET", "/incidents/{incident_id}/satisfaction"): Access(
        SIGNED_IN, "those who read the incident in full (404/403 otherwise)"
    ),
    ("POST", "/incidents/{incident_id}/satisfaction/link"): Access(
        _roles(GW, PS, CH, SD),
        "those who read the incident in full; the token is shown once and stored hashed",
    ),
    ("GET", "/rate/{token}"): Access(PUBLIC, "the page; the token is the key"),
    ("GET", "/rate/{token}/facts"): Access(
        PUBLIC, "that incident's public facts only (redacted description of public categories)"
    ),
    ("POST", "/rate/{token}"): Access(PUBLIC, "one rating per incident; a second is 409"),
    ("POST", "/surveys"): Access(_roles(CH, SD)),
    ("GET", "/surveys"): Access(SIGNED_IN),
    ("GET", "/surveys/{survey_id}/form"): Access(PUBLIC, "questions and grids, no answers"),
    ("POST", "/surveys/{survey_id}/responses"): Access(
        PUBLIC, "anonymous; while the survey is open (409 otherwise)"
    ),
    ("POST", "/surveys/{survey_id}/paper-responses"): Access(
        _roles(GW, PS, CH, SD), "who entered the sheet is recorded"
    ),
    ("GET", "/surveys/{survey_id}/results"): Access(_roles(CH, SD)),
    ("GET", "/survey/{survey_id}"): Access(PUBLIC, "the phone page of a survey"),
    # the monthly appraisal per worker
    ("GET", "/appraisal"): Access(_roles(CH, SD)),
    ("GET", "/appraisal/report"): Access(_roles(CH, SD)),
    ("POST", "/appraisal/records"): Access(_roles(CH, SD)),
    ("GET", "/appraisal/records"): Access(_roles(CH, SD)),
    ("GET", "/dashboard"): Access(PUBLIC, "redirect to /app/dashboard"),
}


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves through its API routes (HEAD and docs left out)."""
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                found.append((method, context.path))
    return found


def _cell(access: Access, caller: str) -> str:
    if access.allows(caller):
        return "✓"
    if access.who == API_KEY:
        return "key"
    return "401" if caller == ANONYMOUS else "403"


def render(app: FastAPI) -> str:
    """The Markdown of ``docs/auth.md``: one row per route of ``app``, in the app's order.

    A route without a :data:`POLICY` row is shown with ``?`` cells (and fails the test).
    """
    lines = [
        "# Who may call what / 接口权限表",
        "",
        "Generated by `python -m api.auth_table > docs/auth.md` from the declared policy",
        "(`api/auth_table.py`); `tests/api/test_auth_table.py` checks every row against the",
        "running app and fails on a route without a row.",
        "",
        "✓ allowed · 401 no token (or a bad or expired one) · 403 signed in with another role ·",
        "key: an Open311 `api_key` is needed. Admin passes every gate but two: separation of",
        "duties (系统管理员 / 安全管理员 / 审计员) keeps the account manager from deciding access",
        "requests (community head, street department) and from reading the audit log (auditor).",
        "Tokens expire after `WANGGE_TOKEN_TTL_MINUTES`. Notes are finer rules applied after",
        "the gate.",
        "",
        "| method | path | " + " | ".join(CALLERS) + " | notes |",
        "|---|---|" + "---|" * len(CALLERS) + "---|",
    ]
    for method, path in app_routes(app):
        access = POLICY.get((method, path))
        cells = ["?"] * len(CALLERS) if access is None else [_cell(access, c) for c in CALLERS]
        note = "" if access is None else access.note
        lines.append(f"| {method} | `{path}` | " + " | ".join(cells) + f" | {note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - the generator
    from api.app import create_app

    print(render(create_app("sqlite:///:memory:")), end="")

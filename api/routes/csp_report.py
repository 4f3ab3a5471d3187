"""``POST /csp-report``: browsers report Content-Security-Policy violations here.

Every policy (:mod:`api.routes.headers`) names this endpoint in ``report-uri``, so a page that
breaks
its policy in someone's browser — a script injected, an asset from elsewhere — shows in the
server's log (logger ``api.csp``, warning), not only in that browser's console. Nothing is
stored: the endpoint is public and a log line is all a report is worth. Bodies are small
(the request limits apply); a body that is not a JSON report is a 400.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response

from api.core.errors import BadRequest

__all__ = ["REPORT_PATH", "router"]

REPORT_PATH = "/csp-report"
log = logging.getLogger("api.csp")
router = APIRouter(tags=["security"])
_KEPT = ("document-uri", "violated-directive", "effective-directive", "blocked-uri",
         "source-file", "line-number")  # fmt: skip


@router.post(REPORT_PATH, status_code=204, response_class=Response)
async def csp_report(request: Request) -> Response:
    """内容安全策略违规报告 / A browser's report of a Content-Security-Policy violation."""
    try:
        report = json.loads(await request.body())
        fields = report["csp-report"]
        if not isinstance(fields, dict):
            raise TypeError("csp-report is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"不是 CSP 违规报告 / not a CSP violation report: {exc}") from exc
    kept = {k: str(fields.get(k, ""))[:300] for k in _KEPT if k in fields}
    log.warning("CSP violation: %s", json.dumps(kept, ensure_ascii=False))
    return Response(status_code=204)

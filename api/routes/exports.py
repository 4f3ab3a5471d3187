"""Ledgers (台账) over the API: the files ``wangge export`` writes, as XLSX or CSV downloads.

Community heads (their own communities), street departments and admins may export. Residents
and special-status rosters are masked unless ``unmask=true`` and the caller's approved access
requests cover every resident exported (403 otherwise); an unmasked export writes one audit
row in the same transaction.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response

from api.core.errors import Forbidden, Unprocessable
from api.db.communities import find_community
from api.db.models import Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.services.incidents.people import user_communities
from api.services.registry.exporter import EXPORT_LAYERS, export_layer
from gis.errors import InputError

__all__ = ["EXPORTERS", "router"]

router = APIRouter(prefix="/exports", tags=["exports"])
EXPORTERS = (Role.COMMUNITY_HEAD, Role.STREET_DEPT, Role.ADMIN)
Exporter = Annotated[User, Depends(require_role(*EXPORTERS))]
_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
Kind = Literal["grids", "houses", "incidents", "residents", "special", "staff", "worklog"]
assert set(Kind.__args__) == set(EXPORT_LAYERS)


@router.get("/{kind}", response_class=Response)
def export_ledger(
    session: SessionDep,
    user: Exporter,
    now: Now,
    kind: Kind,
    community: Annotated[str, Query(description="社区编码或名称 / community code or name")],
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    category: str | None = None,
    format: Annotated[Literal["xlsx", "csv"], Query(description="xlsx|csv")] = "xlsx",
    unmask: Annotated[bool, Query(description="不脱敏（需已批准的申请，记审计）")] = False,
) -> Response:
    """导出台账 / Download a ledger (XLSX or CSV, Chinese headers, Asia/Shanghai times)."""
    try:
        record = find_community(session, community)
    except InputError as exc:
        raise Unprocessable(str(exc)) from exc
    if user.role == Role.COMMUNITY_HEAD and record.id not in user_communities(session, user):
        raise Forbidden(
            f"社区负责人只能导出本社区台账 / a community head may only export their own "
            f"community, not {record.code}"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{kind}-{record.code}.{format}"
        try:
            result = export_layer(
                session, kind, path, community=record.code, month=month, category=category,
                unmask=unmask, user=user, now=now,
            )  # fmt: skip
        except InputError as exc:
            raise Unprocessable(str(exc)) from exc
        data = result.path.read_bytes()
    session.commit()
    name = f"{kind}-{record.code}{'-' + month if month else ''}.{format}"
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Rows": str(result.rows),
    }
    if result.masked is not None:
        headers["X-Masked"] = "true" if result.masked else "false"
    return Response(data, media_type=_MEDIA[format], headers=headers)

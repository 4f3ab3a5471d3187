"""Residents (人口): masked by default; ``?unmask=true`` needs an approved access request and
writes an audit row per resident read (:mod:`api.services.privacy`)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response

from api.db.history import read_history, reveal
from api.db.models import Resident, SpecialStatus, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.common import Listing, ListOf
from api.routes.schemas.registry import (
    ResidentCreate,
    ResidentPublic,
    ResidentUpdate,
    SpecialStatusCreate,
    SpecialStatusPublic,
)
from api.services import crud, privacy

__all__ = ["router"]

router = APIRouter(prefix="/residents", tags=["residents"])
Writer = Annotated[User, Depends(require_role(*privacy.RESIDENT_WRITERS))]
Reader = Annotated[User, Depends(require_role(*privacy.RESIDENT_READERS))]
_WHAT = ("居民", "resident")
Unmask = Annotated[
    bool, Query(description="显示完整身份证号和电话（需已批准的申请，记审计）/ unmask (audited)")
]


@router.get("", response_model=ListOf[ResidentPublic])
def read_residents(
    session: SessionDep,
    user: Reader,
    now: Now,
    house_id: int | None = None,
    grid_code: str | None = None,
    special: Annotated[
        str | None,
        Query(description="特殊身份类别代码（如 disability）/ special-status category code"),
    ] = None,
    unmask: Unmask = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """居民列表（脱敏）/ Residents the user may see, masked unless unmasked by a grant;
    ``special`` keeps those with a special-status record of that category."""
    data, count = privacy.list_residents(
        session,
        user=user,
        house_id=house_id,
        grid_code=grid_code,
        special=special,
        unmask=unmask,
        limit=limit,
        offset=offset,
        now=now,
    )
    session.commit()  # the audit rows of unmasked reads
    return {"data": data, "count": count}


@router.get("/{resident_id}", response_model=ResidentPublic)
def read_resident(
    session: SessionDep, user: Reader, now: Now, resident_id: int, unmask: Unmask = False
) -> dict[str, Any]:
    """一位居民 / One resident (masked unless ``unmask`` with an approved request)."""
    view = privacy.read_resident(
        session, user=user, resident_id=resident_id, unmask=unmask, now=now
    )
    session.commit()
    return view


@router.post("", response_model=ResidentPublic, status_code=201)
def create_resident(
    session: SessionDep, user: Writer, now: Now, body: ResidentCreate
) -> dict[str, Any]:
    """登记居民 / Register a resident (every field checked)."""
    resident = crud.create_resident(
        session, user=user, data=body.model_dump(exclude_unset=True), now=now
    )
    session.commit()
    return privacy.resident_public(resident, unmasked=False)


@router.patch("/{resident_id}", response_model=ResidentPublic)
def update_resident(
    session: SessionDep, user: Writer, now: Now, resident_id: int, body: ResidentUpdate
) -> dict[str, Any]:
    """修改居民 / Update a resident."""
    resident = crud.get_or_404(session, Resident, resident_id, _WHAT)
    crud.update_resident(
        session, user=user, resident=resident, data=body.model_dump(exclude_unset=True), now=now
    )
    session.commit()
    return privacy.resident_public(resident, unmasked=False)


@router.delete("/{resident_id}", status_code=204, response_class=Response)
def delete_resident(session: SessionDep, user: Writer, resident_id: int) -> None:
    """删除居民 / Delete a resident."""
    resident = crud.get_or_404(session, Resident, resident_id, _WHAT)
    crud.delete_resident(session, user=user, resident=resident)
    session.commit()


@router.get("/{resident_id}/history", response_model=Listing)
def read_resident_history(session: SessionDep, user: Reader, resident_id: int) -> dict[str, Any]:
    """居民变更记录（值已脱敏）/ Change history (ID numbers and phones masked)."""
    resident = crud.get_or_404(session, Resident, resident_id, _WHAT)
    privacy.check_house_scope(user, resident.house)
    data = []
    for r in read_history(session, "residents", resident_id):
        old, new = reveal(r.field, r.old_value), reveal(r.field, r.new_value)
        if r.field in ("id_number", "phone") or r.field is None:
            old, new = _mask_values(r.field, old), _mask_values(r.field, new)
        data.append(
            {
                "at": r.at,
                "username": r.username,
                "action": r.action,
                "field": r.field,
                "old": old,
                "new": new,
            }
        )
    return {"data": data, "count": len(data)}


def _mask_values(field: str | None, value: Any) -> Any:
    from api.services.registry.validators import mask_id_number, mask_phone

    masks = {"id_number": mask_id_number, "phone": mask_phone}
    if field is not None:
        return masks[field](value)
    if isinstance(value, dict):
        return {k: masks[k](v) if k in masks else v for k, v in value.items()}
    return value


@router.get("/{resident_id}/special-statuses", response_model=ListOf[SpecialStatusPublic])
def read_special_statuses(session: SessionDep, user: Reader, resident_id: int) -> dict[str, Any]:
    """特殊身份记录 / Special-status records of a resident."""
    resident = crud.get_or_404(session, Resident, resident_id, _WHAT)
    privacy.check_house_scope(user, resident.house)
    rows = session.scalars(
        sa.select(SpecialStatus)
        .where(SpecialStatus.resident_id == resident_id)
        .order_by(SpecialStatus.id)
    ).all()
    return {"data": rows, "count": len(rows)}


@router.post("/{resident_id}/special-statuses", response_model=SpecialStatusPublic, status_code=201)
def create_special_status(
    session: SessionDep, user: Writer, now: Now, resident_id: int, body: SpecialStatusCreate
):
    """登记特殊身份 / Add a special-status record."""
    resident = crud.get_or_404(session, Resident, resident_id, _WHAT)
    record = crud.create_special_status(
        session, user=user, resident=resident, data=body.model_dump(exclude_unset=True), now=now
    )
    session.commit()
    return record

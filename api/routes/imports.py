"""Bulk import of registers over HTTP: ``POST /imports/{kind}`` (houses, residents, staff).

The same importer as ``wangge import`` (:mod:`api.registry.importer`), in one transaction:
a file with a rejected row writes nothing (422 with every row's reasons) unless
``only_good_rows``; a server killed mid-import leaves none of it (``tests/api/test_faults.py``).
For the community head (and admin): an import spans the whole community, not one grid.
"""

from __future__ import annotations

import enum
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from api.db.models import Role, User
from api.deps import Now, SessionDep, require_role
from api.errors import Unprocessable
from api.registry.importer import import_file
from gis.errors import InputError, UnreadableFileError

__all__ = ["ImportKind", "router"]

router = APIRouter(prefix="/imports", tags=["registry"])
Importer = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD))]


class ImportKind(enum.StrEnum):
    """What a register holds."""

    houses = "houses"
    residents = "residents"
    staff = "staff"


@router.post("/{kind}", status_code=201)
def import_register(
    session: SessionDep,
    user: Importer,
    now: Now,
    kind: ImportKind,
    file: Annotated[UploadFile, File(description="XLSX/CSV 登记表 / register (XLSX or CSV)")],
    community: Annotated[str, Form(min_length=1, description="社区编码 / community code")],
    only_good_rows: Annotated[bool, Form()] = False,
    input_crs: Annotated[str | None, Form(description="wgs84|cgcs2000|gcj02|bd09")] = None,
) -> Any:
    """批量导入房屋、人口、人员（一个事务）/ Bulk import a register (one transaction).

    201 with what was imported; 422 with every rejected row's reasons when nothing was
    written (a rejected row and not ``only_good_rows``).
    """
    name = Path(file.filename or "").name or f"{kind.value}.csv"
    with tempfile.TemporaryDirectory(prefix="wangge-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(file.file.read())
        try:
            result = import_file(
                session, kind.value, path, community=community, only_good_rows=only_good_rows,
                today=now.date(), input_crs=input_crs,
            )  # fmt: skip
        except (InputError, UnreadableFileError) as exc:  # name the upload, not the temp file
            raise type(exc)(str(exc).replace(f"{folder}/", "")) from exc
    body = result.as_dict()
    if result.errors and not only_good_rows:
        session.rollback()
        rejected = len(result.rejected_rows)
        raise Unprocessable(
            f"{name}: {rejected} 行有错误，未导入任何数据 / {rejected} rows rejected, "
            "nothing imported",
            errors=body["errors"],
        )
    session.commit()
    return body

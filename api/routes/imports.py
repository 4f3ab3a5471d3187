"""Bulk import of registers over HTTP: ``POST /imports/{kind}`` (houses, residents, staff).

The same importer as ``wangge import`` (:mod:`api.services.registry.importer`), in one transaction:
a file with a rejected row writes nothing (422 with every row's reasons) unless
``only_good_rows``; a server killed mid-import leaves none of it (``tests/api/test_faults.py``).
For the community head (and admin): an import spans the whole community, not one grid.
``GET /imports/{kind}/template`` gives anyone the blank XLSX template of a kind (the same file
as ``wangge template``; headers, drop-downs and an explanation sheet, no data).
"""

from __future__ import annotations

import enum
import functools
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile

from api.core.errors import Unprocessable
from api.db.models import Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.registry import ImportRegisterAnswer
from api.services.registry.importer import import_file
from api.services.registry.templates import DATA_SHEET, write_template
from gis.errors import InputError, UnreadableFileError

__all__ = ["XLSX_MEDIA_TYPE", "ImportKind", "router"]

router = APIRouter(prefix="/imports", tags=["registry"])
Importer = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD))]


class ImportKind(enum.StrEnum):
    """What a register holds."""

    houses = "houses"
    residents = "residents"
    staff = "staff"


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@functools.lru_cache(maxsize=len(ImportKind))
def _template_bytes(kind: str) -> bytes:
    """The template file of ``kind`` (written once per process: the code tables are files)."""
    with tempfile.TemporaryDirectory(prefix="wangge-template-") as folder:
        return write_template(kind, Path(folder) / f"{kind}.xlsx").read_bytes()


@router.get(
    "/{kind}/template",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "XLSX 模板 / template"}},
)
def read_import_template(kind: ImportKind) -> Response:
    """登记表模板（XLSX，公开）/ The blank XLSX template of a register (public, no data)."""
    content = _template_bytes(kind.value)
    name_zh = f"{DATA_SHEET[kind.value]}登记模板.xlsx"
    disposition = (
        f'attachment; filename="wangge-{kind.value}-template.xlsx"; '
        f"filename*=UTF-8''{quote(name_zh)}"
    )
    return Response(content, media_type=XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": disposition})  # fmt: skip


@router.post("/{kind}", status_code=201, response_model=ImportRegisterAnswer)
def import_register(
    session: SessionDep,
    user: Importer,
    now: Now,
    kind: ImportKind,
    file: Annotated[UploadFile, File(description="XLSX/CSV 登记表 / register (XLSX or CSV)")],
    community: Annotated[str, Form(min_length=1, description="社区编码或名称 / code or name")],
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

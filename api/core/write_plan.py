"""What a job writes, and where: the report of a dry run and the plan of its output files.

Kept apart from :mod:`api.db.dry_run` (which needs SQLAlchemy) so that commands writing only
files can dry-run without loading the database layer.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FileWrite", "OutputPlan", "TableChange", "WriteReport", "output_plan"]


@dataclass(frozen=True)
class TableChange:
    """What a job did to one table: rows before and after, and rows inserted/updated/deleted."""

    before: int
    after: int
    updated: int = 0
    deleted: int = 0

    @property
    def inserted(self) -> int:
        """Rows inserted: the growth of the table plus the rows deleted."""
        return self.after - self.before + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "before": self.before,
            "after": self.after,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class FileWrite:
    """A file the job would write: where, how many bytes, and whether it replaces one."""

    path: str
    bytes: int
    replaces: bool

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "replaces": self.replaces}


@dataclass
class WriteReport:
    """What a dry run would have written: changed tables and files."""

    tables: dict[str, TableChange] = field(default_factory=dict)
    files: list[FileWrite] = field(default_factory=list)
    database_created: bool = False

    def rows(self) -> int:
        """Rows inserted, updated or deleted, over all tables."""
        return sum(c.inserted + c.updated + c.deleted for c in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON: ``{"tables": {name: counts}, "files", "database_created"}``."""
        return {
            "tables": {name: change.as_dict() for name, change in self.tables.items()},
            "files": [f.as_dict() for f in self.files],
            "database_created": self.database_created,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WriteReport:
        """The report :meth:`as_dict` gave."""
        return cls(
            tables={
                name: TableChange(c["before"], c["after"], c["updated"], c["deleted"])
                for name, c in data["tables"].items()
            },
            files=[FileWrite(f["path"], f["bytes"], f["replaces"]) for f in data["files"]],
            database_created=data["database_created"],
        )

    def lines(self) -> list[str]:
        """The report as lines of text, Chinese first."""
        lines = ["演练：未写入任何内容 / DRY RUN: nothing was written"]
        if self.database_created:
            lines.append("将新建数据库 / would create the database")
        for name, c in self.tables.items():
            lines.append(
                f"将写入 / would write {name}: 新增 / insert {c.inserted}, 修改 / update "
                f"{c.updated}, 删除 / delete {c.deleted} ({c.before} → {c.after} 行 / rows)"
            )
        for f in self.files:
            verb = "将覆盖 / would replace" if f.replaces else "将写入 / would write"
            lines.append(f"{verb} {f.path} ({f.bytes:,} B)")
        if not self.tables and not self.files:
            lines.append("无任何改动 / no change")
        return lines

    def merge(self, other: WriteReport) -> None:
        """Add ``other``'s tables and files to this report."""
        self.tables.update(other.tables)
        self.files.extend(other.files)
        self.database_created = self.database_created or other.database_created


class OutputPlan:
    """Where a job writes its files: the real paths, or, in a dry run, a temporary folder.

    ``path(real)`` gives the path to write to; ``shown(written)`` turns a path written under
    the temporary folder back into the real one (for messages). In a dry run :meth:`finish`
    lists what was written there into the report, then removes the folder.
    """

    def __init__(self, dry_run: bool, report: WriteReport | None = None) -> None:
        self.dry_run = dry_run
        self.report = report if report is not None else WriteReport()
        self._folder: Path | None = None
        self._targets: dict[Path, Path] = {}  # temporary path -> real path

    def path(self, real: Path) -> Path:
        """The path the job should write ``real`` to (itself unless dry-running)."""
        if not self.dry_run:
            return real
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="wangge-dry-run-"))
        stand_in = self._folder / str(len(self._targets)) / real.name
        stand_in.parent.mkdir()
        self._targets[stand_in] = real
        return stand_in

    def shown(self, written: str | Path) -> Path:
        """The real path for a path the job wrote (a stand-in, or a file inside one)."""
        written = Path(written)
        for stand_in, real in self._targets.items():
            if written == stand_in:
                return real
            if stand_in in written.parents:
                return real / written.relative_to(stand_in)
            if written.parent == stand_in.parent:  # a sibling written beside it (e.g. .cpg)
                return real.parent / written.name
        return written

    def finish(self) -> None:
        """Record the files written under the stand-ins in the report; remove the folder."""
        report = self.report
        if self._folder is None:
            return
        try:
            for stand_in in self._targets:
                for found in sorted(stand_in.parent.rglob("*")):
                    if found.is_file():
                        real = self.shown(found)
                        report.files.append(
                            FileWrite(str(real), found.stat().st_size, real.exists())
                        )
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


@contextlib.contextmanager
def output_plan(dry_run: bool) -> Iterator[OutputPlan]:
    """An :class:`OutputPlan` for a job that writes files only; finished on the way out."""
    plan = OutputPlan(dry_run)
    try:
        yield plan
    finally:
        plan.finish()

"""Code tables of the registry (``data/codes/*.csv``), loaded once and cached.

Each table has a ``code`` column and a ``name_zh`` column (and ``name_en``; some have
``short_zh``, ``parent``, ``requires``...). A value typed by staff is accepted as the code, the
Chinese name, the short Chinese name or the English name (case-insensitive) and normalised to
the code. National standards behind the tables:

=========================  ==========================================================
table                      source
=========================  ==========================================================
``ethnicity``              GB/T 3304 (01–56 the 56 nationalities; 97, 98 as in the standard)
``gender``                 GB/T 2261.1
``education``              GB/T 4658-2006 (two-digit: level ``x0`` and detail)
``marital_status``         GB/T 2261.2
``political_status``       GB/T 4762
``relation_to_householder``  GB/T 4761-2008
``population_type``        community registers (实有人口): 户籍/人户分离/常住/流动/寄住/境外/未落户
``house_type``, ``house_use``  docs/design.md §2 (the types and uses of the demo houses)
``special_status``         docs/design.md §2 categories; their fields in ``special_status_fields``
``staff_role``             the "four-in-one" grid team (see ``data/codes/README.md``)
=========================  ==========================================================
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from gis.errors import InputError, MissingFileError, UnknownKeyError

__all__ = [
    "CODE_TABLES",
    "CodeTable",
    "SpecialStatusField",
    "code_table",
    "codes_dir",
    "special_status_fields",
]

CODE_TABLES = (
    "ethnicity",
    "gender",
    "education",
    "marital_status",
    "political_status",
    "relation_to_householder",
    "population_type",
    "house_type",
    "house_use",
    "special_status",
    "staff_role",
)
_LOOKUP_COLUMNS = ("code", "name_zh", "short_zh", "name_en")


def codes_dir(data_dir: Path | None = None) -> Path:
    """Return the folder of the code tables: ``<data_dir>/codes`` (default from the settings)."""
    if data_dir is None:
        from api.core.config import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "codes"


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise MissingFileError(f"找不到代码表 / code table not found: {path}")
    with path.open(encoding="utf-8", newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


@dataclass(frozen=True)
class CodeTable:
    """One code table: rows in file order, and a lookup from code or name to the code."""

    name: str
    rows: tuple[dict[str, str], ...]
    _index: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_rows(cls, name: str, rows: list[dict[str, str]]) -> CodeTable:
        index: dict[str, str] = {}
        for row in rows:
            keys = [row.get(c, "") for c in _LOOKUP_COLUMNS]
            if name == "ethnicity" and row["name_zh"].endswith("族") and len(row["name_zh"]) >= 2:
                keys.append(row["name_zh"][:-1])  # 汉 → 汉族, 维吾尔 → 维吾尔族
            for key in keys:
                if key:
                    index.setdefault(key.casefold(), row["code"])
        return cls(name=name, rows=tuple(rows), _index=index)

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes, in file order."""
        return tuple(r["code"] for r in self.rows)

    def code_of(self, value: object) -> str | None:
        """Return the code for a code or a name (Chinese, short or English), else None.

        >>> code_table("ethnicity").code_of("汉")
        '01'
        >>> code_table("marital_status").code_of("已婚"), code_table("gender").code_of("x")
        ('20', None)
        """
        if value is None:
            return None
        return self._index.get(str(value).strip().casefold())

    def row(self, code: str) -> dict[str, str]:
        """Return the row of ``code`` (KeyError naming the table when unknown)."""
        for r in self.rows:
            if r["code"] == code:
                return r
        raise UnknownKeyError(f"{self.name}: 未知代码 / unknown code {code!r}")

    def name_zh(self, code: str) -> str:
        """Return the Chinese name of ``code``."""
        return self.row(code)["name_zh"]

    def examples(self, n: int = 5) -> str:
        """A few 'code name' pairs, for error messages."""
        shown = ", ".join(f"{r['code']} {r['name_zh']}" for r in self.rows[:n])
        return shown + (", ..." if len(self.rows) > n else "")


@lru_cache(maxsize=64)
def _load(name: str, folder: Path) -> CodeTable:
    return CodeTable.from_rows(name, _read_csv(folder / f"{name}.csv"))


def code_table(name: str, *, data_dir: Path | None = None) -> CodeTable:
    """Return the code table ``name`` (one of :data:`CODE_TABLES`), read once and cached."""
    if name not in CODE_TABLES:
        raise InputError(
            f"未知代码表 / unknown code table {name!r}; expected one of {', '.join(CODE_TABLES)}"
        )
    return _load(name, codes_dir(data_dir).resolve())


FieldType = Literal["text", "int", "number", "date", "bool", "enum", "phone"]


@dataclass(frozen=True)
class SpecialStatusField:
    """One field of a special-status category (``data/codes/special_status_fields.csv``)."""

    category: str
    field: str
    label_zh: str
    label_en: str
    type: FieldType
    required: bool
    choices: tuple[str, ...]


@lru_cache(maxsize=8)
def _load_fields(folder: Path) -> dict[str, tuple[SpecialStatusField, ...]]:
    out: dict[str, list[SpecialStatusField]] = {}
    for row in _read_csv(folder / "special_status_fields.csv"):
        spec = SpecialStatusField(
            category=row["category"],
            field=row["field"],
            label_zh=row["label_zh"],
            label_en=row["label_en"],
            type=row["type"],  # type: ignore[arg-type]
            required=row["required"] == "1",
            choices=tuple(c for c in row["choices"].split("|") if c),
        )
        out.setdefault(spec.category, []).append(spec)
    return {k: tuple(v) for k, v in out.items()}


def special_status_fields(
    category: str, *, data_dir: Path | None = None
) -> tuple[SpecialStatusField, ...]:
    """Return the fields of a special-status category (empty for an unknown category)."""
    return _load_fields(codes_dir(data_dir).resolve()).get(category, ())

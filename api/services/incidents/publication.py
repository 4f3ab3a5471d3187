"""What of an incident the public may see: the publication policy and the redaction pass.

Every incident category is public or not (``incident_categories.public``, from the code
table's ``public`` column; not public when unset). Routes served without sign-in take their
incidents from :func:`public_incidents` (or filter with :func:`public_clause`) and show, of
each, only the category, status, dates, a location and the description after :func:`redact`:

- 18-digit ID numbers (the last character a digit or X), masked whole;
- mobile numbers ``1[3-9]`` + 9 digits, also written with spaces or hyphens (138 1234 5678);
- landlines with an area code (``021-6123 4567``, ``(021)61234567``) or without (7–8 digits
  starting 2–9, ``6123-4567``);
- names of the registered residents of the incident's community (longest first).

Runs of digits are only taken whole (a 20-digit number is not an ID with two extra digits,
but it is masked as a landline would be if it had that shape). Reporters are never public.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import House, Incident, Resident
from api.db.models.incidents import IncidentCategory

__all__ = [
    "MASK",
    "PublicText",
    "is_public",
    "public_categories",
    "public_clause",
    "public_incidents",
    "redact",
]

MASK = "***"
_D = r"(?<!\d)"  # a whole run of digits, not part of a longer one
_E = r"(?![\dXx])"
_PATTERNS = (
    re.compile(rf"{_D}\d{{17}}[\dXx]{_E}"),  # ID number (GB 11643)
    re.compile(rf"{_D}(?:\+?86[-\s]?)?1[3-9]\d[-\s]?\d{{4}}[-\s]?\d{{4}}{_E}"),  # mobile
    re.compile(rf"{_D}(?:\(0\d{{2,3}}\)|0\d{{2,3}})[-\s]?[2-9]\d{{2,3}}[-\s]?\d{{4}}{_E}"),
    re.compile(rf"{_D}[2-9]\d{{2,3}}[-\s]?\d{{4}}{_E}"),  # landline without area code
)


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    found = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    if not found:
        return None
    return re.compile("|".join(re.escape(n) for n in found))


def redact(text: str | None, names: Iterable[str] = ()) -> str | None:
    """Return ``text`` with ID numbers, phone numbers and the given names masked.

    >>> redact("张三 身份证110101199003074518 电话138-1234-5678，座机021-61234567", ["张三"])
    '*** 身份证*** 电话***，座机***'
    >>> redact("井盖缺失，位于2号楼旁")
    '井盖缺失，位于2号楼旁'
    """
    if text is None:
        return None
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    named = _name_pattern(names)
    return text if named is None else named.sub(MASK, text)


def public_clause():
    """SQL condition: the incident's category is public."""
    public_codes = sa.select(IncidentCategory.code).where(IncidentCategory.public.is_(True))
    return Incident.category_code.in_(public_codes)


def public_incidents() -> sa.Select:
    """``SELECT incidents`` of public categories only (add filters and order to it)."""
    return sa.select(Incident).where(public_clause())


def public_categories(session: Session) -> set[str]:
    """Codes of the public categories."""
    return set(session.scalars(sa.select(IncidentCategory.code).where(IncidentCategory.public)))


def is_public(session: Session, incident: Incident) -> bool:
    """True if ``incident`` is of a public category."""
    return bool(
        session.scalar(
            sa.select(IncidentCategory.public).where(
                IncidentCategory.code == incident.category_code
            )
        )
    )


class PublicText:
    """Redacts the texts of incidents, each with the resident names of its community
    (read once per community)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._names: dict[int, list[str]] = {}

    def names(self, community_id: int) -> list[str]:
        """Names of the residents registered in ``community_id``."""
        if community_id not in self._names:
            self._names[community_id] = list(
                self.session.scalars(
                    sa.select(Resident.name)
                    .join(House, House.id == Resident.house_id)
                    .where(House.community_id == community_id)
                )
            )
        return self._names[community_id]

    def __call__(self, incident: Incident, text: str | None) -> str | None:
        """``text`` (a description, note or address of ``incident``) redacted."""
        return redact(text, self.names(incident.community_id))

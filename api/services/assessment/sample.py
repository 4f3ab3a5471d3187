"""The monthly draw of sample points (样本点): a reproducible random choice of households.

docs/design.md §2: each month 10 households of each community are drawn at random and visited;
what is found on the spot is compared with the registry. The draw must be reproducible and
checkable afterwards, so:

* households are identified by their house key (``house_key``), or, where a row has none, by
  its door plate (``address``); the draw sorts them by that identifier first, so the order of
  the rows handed in does not matter;
* the generator is :func:`numpy.random.default_rng` with a seed that is recorded in the
  result; when no seed is given it is derived from the community and the month
  (:func:`derive_seed`: the first 8 bytes of SHA-256 of ``"<community>|<YYYY-MM>"``, as an
  integer below 2**63), so the same community and month always give the same draw and anyone
  holding the recorded seed can redraw it;
* ``Generator.choice(k, size=n, replace=False)`` picks the positions; the sample keeps the
  order of drawing (``draw_order`` 1..n);
* with fewer than ``n`` households every household is taken (in identifier order) and the
  result says so in ``note``.

The caller hands in the community's households (one row per household); the frame is not
filtered by ``community``, which only seeds the draw and labels the result.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gis.errors import InputError

__all__ = ["SAMPLE_SIZE", "Sample", "check_month", "derive_seed", "draw_sample", "household_ids"]

SAMPLE_SIZE = 10
"""Sample points per community and month (docs/design.md §2)."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    """Return ``month`` (``YYYY-MM``) stripped, or raise :class:`~gis.errors.InputError`."""
    if not isinstance(month, str) or not _MONTH.match(month.strip()):
        raise InputError(f"月份须为 YYYY-MM / month must be YYYY-MM: {month!r}")
    return month.strip()


def derive_seed(community: str, month: str) -> int:
    """Return the seed of a community's draw for a month: SHA-256 of ``community|month``.

    >>> derive_seed("九江社区", "2024-05") == derive_seed(" 九江社区 ", "2024-05")
    True
    >>> derive_seed("九江社区", "2024-05") == derive_seed("九江社区", "2024-06")
    False
    >>> 0 <= derive_seed("a", "2024-01") < 2**63
    True
    """
    key = f"{str(community).strip()}|{check_month(month)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1


def household_ids(households: pd.DataFrame) -> pd.Series:
    """Return each household's identifier: ``house_key``, else the door plate ``address``.

    Raises :class:`~gis.errors.InputError` naming the row when a household has neither, and
    naming the identifier when two rows share one.
    """
    if "house_key" not in households.columns and "address" not in households.columns:
        raise InputError(
            "住户表须有 house_key（房屋编号）或 address（门牌号码）列 / "
            "households need a house_key or an address column"
        )

    def _clean(col: str) -> pd.Series:
        if col not in households.columns:
            return pd.Series(pd.NA, index=households.index, dtype="object")
        s = households[col].astype("string").str.strip()
        return s.mask(s == "")

    ids = _clean("house_key").fillna(_clean("address"))
    missing = ids[ids.isna()]
    if len(missing):
        raise InputError(
            f"第 {missing.index[0]} 行既无房屋编号也无门牌号码 / "
            f"row {missing.index[0]}: neither house_key nor address"
        )
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(f"住户重复 / household listed twice: {dup.iloc[0]}")
    return ids.astype(str).rename("household_id")


@dataclass(frozen=True)
class Sample:
    """A community's drawn sample points for a month, with everything needed to redraw it.

    ``households`` holds the drawn rows (the input columns plus ``household_id`` and
    ``draw_order``), in drawing order; ``household_ids`` the same identifiers as a tuple.
    """

    community: str
    month: str
    seed: int
    seed_derived: bool
    n_requested: int
    n_available: int
    household_ids: tuple[str, ...]
    households: pd.DataFrame = field(repr=False, compare=False)
    note: str = ""

    def to_dict(self) -> dict:
        """The draw as plain JSON-ready values (without the household rows)."""
        return {
            "community": self.community,
            "month": self.month,
            "seed": self.seed,
            "seed_derived": self.seed_derived,
            "n_requested": self.n_requested,
            "n_available": self.n_available,
            "household_ids": list(self.household_ids),
            "note": self.note,
        }


def draw_sample(
    households: pd.DataFrame,
    *,
    community: str,
    month: str,
    n: int = SAMPLE_SIZE,
    seed: int | None = None,
) -> Sample:
    """Draw ``n`` households of a community for a month's assessment, reproducibly.

    Parameters
    ----------
    households : DataFrame
        One row per household of the community, with ``house_key`` and/or ``address``.
    community, month : str
        The community (name or code) and the month ``YYYY-MM``; they derive the seed when
        ``seed`` is None.
    n : int
        Sample size (default 10).
    seed : int, optional
        A recorded seed, to redraw an earlier sample exactly.

    Returns
    -------
    Sample
        The drawn households in drawing order, the seed used and a note when fewer than
        ``n`` households exist.

    Examples
    --------
    >>> df = pd.DataFrame({"house_key": [f"H{i:03d}" for i in range(30)]})
    >>> a = draw_sample(df, community="九江社区", month="2024-05")
    >>> b = draw_sample(df.iloc[::-1], community="x", month="2024-01", seed=a.seed)
    >>> a.household_ids == b.household_ids, len(a.household_ids)
    (True, 10)
    >>> draw_sample(df.head(3), community="九江社区", month="2024-05").household_ids
    ('H000', 'H001', 'H002')
    """
    month = check_month(month)
    community = str(community).strip()
    if not community:
        raise InputError("社区不能为空 / community must not be empty")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"样本数须为正整数 / n must be a positive integer: {n!r}")
    seed_derived = seed is None
    if seed is None:
        seed = derive_seed(community, month)
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"随机种子须为非负整数 / seed must be a non-negative integer: {seed!r}")
    seed = int(seed)

    ids = household_ids(households)
    frame = households.assign(household_id=ids.to_numpy())
    frame = frame.iloc[np.argsort(ids.to_numpy(), kind="stable")].reset_index(drop=True)
    available = len(frame)
    note = ""
    if available <= n:
        positions = np.arange(available)
        if available < n:
            note = (
                f"住户仅 {available} 户，少于 {n} 户，全部抽取 / "
                f"only {available} households (fewer than {n}): all taken"
            )
    else:
        positions = np.random.default_rng(seed).choice(available, size=n, replace=False)
    drawn = frame.iloc[positions].reset_index(drop=True)
    drawn["draw_order"] = np.arange(1, len(drawn) + 1)
    return Sample(
        community=community,
        month=month,
        seed=seed,
        seed_derived=seed_derived,
        n_requested=int(n),
        n_available=available,
        household_ids=tuple(drawn["household_id"].tolist()),
        households=drawn,
        note=note,
    )

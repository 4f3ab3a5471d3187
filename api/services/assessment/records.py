"""Household and resident records as the assessment compares them: from the registry or
from the field, one shape for both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import pandas as pd

from api.services.assessment.compare import is_blank
from api.services.assessment.sample import household_ids
from gis.address import normalise
from gis.errors import InputError

__all__ = ["HouseholdRecord", "ResidentRecord", "household_records"]


def _clean(value: object) -> Any:
    return None if is_blank(value) else value


@dataclass(frozen=True)
class ResidentRecord:
    """A person of a household, with the docs/design.md §2 population fields.

    ``special_statuses`` maps a special-status category (code such as ``disability`` or its
    Chinese name) to that item's fields; ``None`` means not checked (field data) or none
    (registry).
    """

    name: str | None = None
    gender: Any = None
    ethnicity: Any = None
    id_number: Any = None
    birth_date: Any = None
    education: Any = None
    relation_to_householder: Any = None
    marital_status: Any = None
    marital_status_date: Any = None
    political_status: Any = None
    hukou_address: Any = None
    population_type: Any = None
    inflow_date: Any = None
    residence_permit_no: Any = None
    phone: Any = None
    special_statuses: Mapping[str, Mapping[str, Any]] | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> ResidentRecord:
        """Build from a dict or a DataFrame row (unknown keys ignored, NaN/blank → None)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: _clean(v) for k, v in dict(row).items() if k in names})


@dataclass(frozen=True)
class HouseholdRecord:
    """A house with its residents, as registered or as found on the spot.

    ``residents`` None (field data) means the people were not checked: registered persons
    are then not reported as missing from the house.
    """

    house_key: str | None = None
    address: Any = None
    owner: Any = None
    floor_area_m2: Any = None
    house_type: Any = None
    use: Any = None
    residents: tuple[ResidentRecord, ...] | None = ()

    @classmethod
    def from_mapping(
        cls, house: Mapping[str, Any], residents: Iterable[Mapping[str, Any]] | None = ()
    ) -> HouseholdRecord:
        """Build from a house row and its resident rows (dicts or DataFrame rows)."""
        names = {f.name for f in fields(cls)} - {"residents"}
        kwargs = {k: _clean(v) for k, v in dict(house).items() if k in names}
        people = (
            None
            if residents is None
            else tuple(
                r if isinstance(r, ResidentRecord) else ResidentRecord.from_mapping(r)
                for r in residents
            )
        )
        return cls(**kwargs, residents=people)

    @property
    def key(self) -> str:
        """The household's identifier: house key, else door plate."""
        return str(self.house_key if not is_blank(self.house_key) else self.address)


def household_records(
    houses: pd.DataFrame,
    residents: pd.DataFrame | None = None,
    special_statuses: pd.DataFrame | None = None,
) -> dict[str, HouseholdRecord]:
    """Build :class:`HouseholdRecord` objects from registry or field-data tables.

    ``houses`` has ``house_key`` and/or ``address``; ``residents`` links to a house by
    ``house_key`` or by ``door_plate``/``address`` (the house's door plate);
    ``special_statuses`` has ``house_key`` (or ``door_plate``), ``name`` (the person's),
    ``category`` and either a ``fields`` column of dicts or one column per field. Returns a
    dict keyed by :attr:`HouseholdRecord.key`.
    """
    ids = household_ids(houses)
    by_plate = {
        normalise(str(a)): k
        for a, k in zip(houses.get("address", pd.Series(dtype=object)), ids, strict=False)
        if not is_blank(a)
    }
    keys = set(ids)

    def _house_of(row: Mapping[str, Any], what: str, i: object) -> str:
        key = _clean(row.get("house_key"))
        if key is not None and str(key).strip() in keys:
            return str(key).strip()
        plate = _clean(row.get("door_plate", row.get("address")))
        if plate is not None and normalise(str(plate)) in by_plate:
            return by_plate[normalise(str(plate))]
        raise InputError(f"{what}第 {i} 行找不到所属房屋 / {what} row {i}: house not found")

    specials: dict[tuple[str, str], dict[str, dict]] = {}
    if special_statuses is not None:
        for i, row in special_statuses.iterrows():
            house = _house_of(row, "特殊人群表", i)
            person = normalise(str(row.get("name", "")))
            if "fields" in row and isinstance(row["fields"], Mapping):
                item = dict(row["fields"])
            else:
                skip = {"house_key", "door_plate", "address", "name", "category", "id_number"}
                item = {k: v for k, v in row.items() if k not in skip and not is_blank(v)}
            specials.setdefault((house, person), {})[str(row["category"])] = item

    people: dict[str, list[ResidentRecord]] = {k: [] for k in ids}
    if residents is not None:
        for i, row in residents.iterrows():
            house = _house_of(row, "人口表", i)
            record = ResidentRecord.from_mapping(row)
            item = specials.get((house, normalise(str(record.name or ""))))
            if item is not None:
                record = replace(record, special_statuses=item)
            people[house].append(record)
    return {
        key: HouseholdRecord.from_mapping(row, people[key])
        for key, (_, row) in zip(ids, houses.iterrows(), strict=True)
    }

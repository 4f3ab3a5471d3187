"""Settings, from environment variables (prefix ``WANGGE_``) or a ``wangge.toml`` file.

Environment variables win over the file. See README "Configuration".
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gis.defaults import (
    DEFAULT_HOUSEHOLD_BAND,
    DEFAULT_NOISE_M,
    DEFAULT_TARGET_HOUSEHOLDS,
    DEFAULT_TOLERANCE_M,
)

__all__ = [
    "Settings",
    "coverage_tolerances",
    "default_household_band",
    "default_target_households",
    "default_tolerance_m",
    "get_settings",
]


class _TomlFileSource(PydanticBaseSettingsSource):
    """Read the ``[wangge]`` table of the file named by WANGGE_CONFIG (default ./wangge.toml)."""

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get("WANGGE_CONFIG", "wangge.toml"))
        if not path.is_file():
            return {}
        with path.open("rb") as f:
            return dict(tomllib.load(f).get("wangge", {}))

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return None, field_name, False


def _tile_sources(value: Any) -> str:
    """The setting ``tiles`` as "name,name" (checked against the known online sources)."""
    from maps.basemap_config import parse_tile_sources

    return ",".join(parse_tile_sources(value)) or "none"


def _target_households(value: Any) -> int:
    """The setting ``target_households``: a positive whole number of households.

    The error names the environment variable, so a deployment with a bad value stops at
    start-up saying which variable to fix (pydantic alone would name only the field).
    """
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise ValueError(
            "WANGGE_TARGET_HOUSEHOLDS 须为正整数（每格目标户数）/ must be a positive whole "
            f"number of households per grid, not {value!r}"
        )
    return number


def _household_band(value: Any) -> float:
    """The setting ``target_band``: a share of the target strictly between 0 and 1."""
    try:
        share = float(str(value).strip())
    except ValueError:
        share = float("nan")
    if isinstance(value, bool) or not 0 < share < 1:
        raise ValueError(
            "WANGGE_TARGET_BAND 须在 0 与 1 之间（如 0.2 即 ±20%）/ must be a share strictly "
            f"between 0 and 1 (0.2 = ±20%), not {value!r}"
        )
    return share


class Settings(BaseSettings):
    """wangge configuration."""

    model_config = SettingsConfigDict(env_prefix="WANGGE_", extra="ignore")

    database_url: str = Field(
        "sqlite:///wangge.db",
        description="SQLAlchemy URL: sqlite:///FILE (SpatiaLite) or postgresql+psycopg://...",
    )
    # env values arrive as strings; the Literal must compare ints
    storage_srid: Annotated[Literal[4326, 4490], BeforeValidator(int)] = Field(
        4326, description="Lon/lat CRS of stored geometry: 4326 (WGS84) or 4490 (CGCS2000)"
    )
    tolerance_m: float = Field(
        DEFAULT_TOLERANCE_M,
        gt=0,
        description="Coverage tolerance in metres of a validation or repair that names none",
    )
    noise_floor_m: float = Field(
        DEFAULT_NOISE_M, gt=0, description="Differences below this (metres) are noise"
    )
    target_households: Annotated[int, BeforeValidator(_target_households)] = Field(
        DEFAULT_TARGET_HOUSEHOLDS,
        description="Households a grid should hold: the target of `wangge divide`/`balance` "
        "without --target and of the planner (300-500 for a comprehensive grid, 50-80 for a "
        "micro-grid)",
    )
    target_band: Annotated[float, BeforeValidator(_household_band)] = Field(
        DEFAULT_HOUSEHOLD_BAND,
        description="How far (share of the target, between 0 and 1) a grid's households may "
        "stray and still be ok: `divide`/`balance` without --band and the planner",
    )
    data_dir: Path = Field(
        Path(__file__).resolve().parents[2] / "data",
        description="Folder with the demo community and the code tables",
    )
    spatialite_path: str | None = Field(
        None, description="Path of mod_spatialite if it is not on the loader's path"
    )
    secret_key: str | None = Field(
        None, description="Key signing API tokens; unset: a random key per process"
    )
    data_key: str | None = Field(
        None,
        repr=False,
        description="Key encrypting residents' ID numbers and phones: 32 random bytes in URL-safe "
        "base64 (wangge keys new); required to store residents",
    )
    data_key_file: Path | None = Field(
        None, description="File holding the data key (instead of WANGGE_DATA_KEY)"
    )
    token_ttl_minutes: int = Field(480, gt=0, description="Lifetime of an API token")
    second_factor_roles: str = Field(
        "admin,auditor,community_head,street_dept",
        description="Roles that must sign in with a TOTP code (comma-separated; empty: none)",
    )
    password_max_age_days: int = Field(
        0, ge=0, description="Days a password stays valid before it must be changed (0: no expiry)"
    )
    login_account_failures: int = Field(
        5, gt=0, description="Failed sign-ins of one account (in the window) before 429"
    )
    login_address_failures: int = Field(
        20, gt=0, description="Failed sign-ins from one client address (in the window) before 429"
    )
    login_window_s: float = Field(900.0, gt=0, description="Window counting failed sign-ins")
    behind_tls: bool = Field(
        False,
        description="The deployment is served over HTTPS (TLS ends in a proxy in front): send "
        "Strict-Transport-Security on every answer (otherwise only on https requests)",
    )
    idle_timeout_minutes: int = Field(
        30, gt=0, description="Pages sign out after this long without use"
    )
    max_body_mb: float = Field(20.0, gt=0, description="Largest request body accepted (413 above)")
    max_vertices: int = Field(
        100_000, gt=0, description="Most vertices in one geometry (API and file readers; 422 above)"
    )
    max_json_depth: int = Field(
        32, gt=0, description="Deepest nesting of arrays/objects in a JSON body (422 above)"
    )
    max_upload_rows: int = Field(
        100_000, gt=0, description="Most rows (features) in one file uploaded through the API"
    )
    max_local_rows: int | None = Field(
        None,
        gt=0,
        description="Most rows (features) in one local file a CLI command reads (none: no bound;"
        " `wangge --max-rows N` for one run)",
    )
    max_unzipped_mb: float = Field(
        200.0, gt=0, description="Most bytes a zip upload (zipped SHP, XLSX) may expand to"
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="Longest time a request may take (504 after it)"
    )
    photo_dir: Path = Field(Path("photos"), description="Folder for incident photos")
    staff_photo_dir: Path | None = Field(
        None,
        description="Folder of staff photos (notice boards, public page); a staff member's "
        "photo_path is relative to it. Unset: staff_photos/ beside the SQLite database file "
        "(./staff_photos for PostGIS)",
    )
    locate_cache_s: float = Field(
        5.0,
        ge=0,
        le=30,
        description="Longest time the public grid look-up answers from memory before reading "
        "the database's change counter again: the bound (at most 30 s) within which an edit "
        "made by another process or host shows (edits in this process show at once; 0: check "
        "every request)",
    )
    basemap: Path | None = Field(
        None,
        description="Offline base map served at /tiles/base: a .pmtiles or .mbtiles archive "
        "built by `wangge basemap build`",
    )
    open311_contact: str = Field(
        "请联系街道网格化管理中心 / contact the street office's grid management centre",
        description="Open311 discovery document: who to contact about the service",
    )
    open311_key_service: str = Field(
        "API 密钥由管理员发放（wangge open311 key create NAME）/ API keys are issued by an "
        "administrator (wangge open311 key create NAME)",
        description="Open311 discovery document: how a client obtains an api_key",
    )
    cors_origins: str = Field(
        "",
        description="Origins allowed to call the API from a browser (CORS), comma separated, "
        "or * for any; empty: CORS off",
    )
    public_url: str | None = Field(
        None,
        description="Public base address of the app as residents reach it "
        "(https://host[/prefix]): the notice boards' QR codes lead to "
        "<public_url>/public?grid=<code>, the feedback slips' rating links to "
        "<public_url>/rate/<token>. Unset: boards print without QR codes (the print command "
        "warns) and slips without a rating link",
    )
    supervision_phone: str | None = Field(
        None,
        description="The street's supervision phone (监督电话) printed on every notice board; "
        "unset: a blank line to fill in by hand",
    )
    tianditu_key: str | None = Field(
        None, description="Tianditu browser key: needed when `tiles` offers tianditu"
    )
    tiles: Annotated[str, BeforeValidator(_tile_sources)] = Field(
        "none",
        description="Online base maps the web maps offer in their layer switch, comma separated "
        "(a list in wangge.toml): osm, tianditu (needs tianditu_key), amap, tencent (GCJ-02: "
        "the page shifts what it draws, never the stored data); none: only the offline base "
        "map (basemap) and no base map",
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, env_settings, _TomlFileSource(settings_cls))


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()


def default_tolerance_m() -> float:
    """The coverage tolerance of a request or command that names none (``WANGGE_TOLERANCE_M``)."""
    return get_settings().tolerance_m


def default_target_households() -> int:
    """Households per grid of a command or request that names no target
    (``WANGGE_TARGET_HOUSEHOLDS``)."""
    return get_settings().target_households


def default_household_band() -> float:
    """The band of a command or request that names none (``WANGGE_TARGET_BAND``)."""
    return get_settings().target_band


def coverage_tolerances(tolerance_m: float | None = None) -> tuple[float, float]:
    """Return ``(tolerance_m, noise_m)``: ``tolerance_m`` or the setting, and the noise floor.

    The settings ``WANGGE_TOLERANCE_M`` and ``WANGGE_NOISE_FLOOR_M`` apply wherever a
    division is validated or repaired without an explicit tolerance.
    """
    settings = get_settings()
    return (settings.tolerance_m if tolerance_m is None else tolerance_m), settings.noise_floor_m

"""The web service: ``create_app(db_url=None) -> FastAPI`` (OpenAPI at ``/docs``).

The lifespan opens the database (SpatiaLite file by default, PostGIS by URL), creating and
migrating it (:func:`api.db.engine.init_db`). Routers: ``/auth``, ``/communities``, ``/grids``
(public list and locate), ``/houses``, ``/residents``, ``/staff``, ``/users``,
``/access-requests``, ``/audit``, ``/divisions`` (public validate), ``/ogc`` (OGC API –
Features), ``/tiles/base`` (the offline base map), ``/health``. Request bodies over
``max_body_bytes`` get a 413 before they are read whole. Errors are ``{"detail": ...}``
(:mod:`api.core.errors`).

The signing key of tokens comes from ``secret_key=``, else ``WANGGE_SECRET_KEY``, else a
random key per process (tokens then end with the process).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.core.config import get_settings
from api.core.error_handlers import error_response, install_error_handlers
from api.core.errors import PayloadTooLarge
from api.core.limits import Limits, RequestLimits, RequestTimeout
from api.core.security import new_secret_key
from api.db.engine import init_db, make_engine, session_factory
from api.routes import (
    access,
    appraisal,
    assessment,
    auth,
    communities,
    csp_report,
    divisions,
    exports,
    geocode,
    grids,
    health,
    houses,
    imports,
    incidents,
    maps,
    ogc,
    open311,
    opinion,
    pages,
    patrol,
    planner,
    residents,
    routing,
    staff,
    tiles,
    users,
)
from api.routes.headers import SecurityHeaders
from api.routes.throttle import SignInLimits
from api.services.locate import GridLocator
from api.services.staff_photos import staff_photo_dir as default_staff_photo_dir
from maps.assets import STATIC_DIR
from maps.basemap_config import online_sources, parse_tile_sources
from maps.tile_archive import open_archive

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BodySizeLimit", "create_app", "parse_origins"]

log = logging.getLogger(__name__)
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024  # = the default of WANGGE_MAX_BODY_MB


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _reply(self):
        mib = self.max_bytes / 1024 / 1024
        return error_response(
            PayloadTooLarge(f"请求体过大（上限 {mib:g} MiB）/ body too large (limit {mib:g} MiB)")
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reply()(scope, receive, send)
            return
        seen = 0
        started = replied = False

        async def counting_receive():
            nonlocal seen, replied
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not started and not replied:
                        replied = True
                        await self._reply()(scope, receive, send)
                    raise _TooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if replied:  # the 413 has gone out: whatever the app answers is dropped
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started and not replied:
                await self._reply()(scope, receive, send)


def parse_origins(text: str) -> list[str]:
    """The CORS origins of a ``WANGGE_CORS_ORIGINS`` value: comma separated, ``*`` for any.

    >>> parse_origins(" https://a.example, https://b.example:8443 ,")
    ['https://a.example', 'https://b.example:8443']
    >>> parse_origins("")
    []
    """
    return [o.strip().rstrip("/") for o in text.split(",") if o.strip()]


def create_app(
    db_url: str | None = None,
    *,
    secret_key: str | None = None,
    token_ttl: dt.timedelta | None = None,
    max_body_bytes: int | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    throttle: SignInLimits | None = None,
    second_factor_roles: Iterable[str] | None = None,
    limits: Limits | None = None,
    staff_photo_dir: Path | None = None,
    basemap: Path | None = None,
    cors_origins: list[str] | None = None,
    idle_timeout: dt.timedelta | None = None,
) -> FastAPI:
    """Return the wangge API for the database at ``db_url`` (default: the configured one).

    ``secret_key``, ``token_ttl`` and ``max_body_bytes`` default to the settings
    (``WANGGE_SECRET_KEY``, ``WANGGE_TOKEN_TTL_MINUTES``, ``WANGGE_MAX_BODY_MB``; without a
    key, a random one per process, so tokens die with it). ``clock`` (UTC now) decides token
    expiry and access-request expiry; ``throttle`` sets the sign-in limits (default: the
    settings); ``second_factor_roles`` the roles that need a TOTP code (default:
    ``WANGGE_SECOND_FACTOR_ROLES``); all injectable for tests. ``limits`` (default: the
    settings) bounds hostile input: JSON depth, vertices per geometry, rows per upload, zip
    expansion, time per request (:mod:`api.core.limits`).
    ``staff_photo_dir`` (default: ``WANGGE_STAFF_PHOTO_DIR``, else ``staff_photos/`` beside
    the SQLite file, :func:`api.services.staff_photos.staff_photo_dir`) holds staff photos.
    ``basemap`` (default: ``WANGGE_BASEMAP``) is the tile archive served at ``/tiles/base``
    (:mod:`api.routes.tiles`); a file that cannot be opened is an
    :class:`~gis.errors.InputError` here, not a failure at the first tile.
    ``cors_origins`` (default: ``WANGGE_CORS_ORIGINS``; empty: CORS off) are the browser
    origins allowed to call the API from other sites (``["*"]``: any). Tokens travel in the
    ``Authorization`` header, not in cookies, so no credentials mode is offered.
    ``idle_timeout`` (default: ``WANGGE_IDLE_TIMEOUT_MINUTES``): the pages sign out after this
    long without use. Every answer carries the security headers of :mod:`api.routes.headers`.
    """
    settings = get_settings()
    if token_ttl is None:
        token_ttl = dt.timedelta(minutes=settings.token_ttl_minutes)
    if limits is None:
        limits = Limits.from_settings(settings)
    if max_body_bytes is None:
        max_body_bytes = limits.max_body_bytes
    if cors_origins is None:
        cors_origins = parse_origins(settings.cors_origins)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(db_url)
        init_db(engine)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.staff_photo_dir = Path(staff_photo_dir or default_staff_photo_dir(engine.url))
        app.state.locator = GridLocator(
            app.state.sessions,
            photo_dir=app.state.staff_photo_dir,
            max_age_s=settings.locate_cache_s,
        )
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="wangge 网格化管理 API",
        description="社区网格化管理：网格、房屋、人口、工作人员、隐私与审计 / community grid "
        "management: grids, houses, residents, staff, privacy and audit.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.secret_key = secret_key or settings.secret_key or new_secret_key()
    app.state.token_ttl = token_ttl
    app.state.clock = clock or (lambda: dt.datetime.now(dt.UTC))
    app.state.sign_in_limits = throttle or SignInLimits(
        account_failures=settings.login_account_failures,
        address_failures=settings.login_address_failures,
        window_s=settings.login_window_s,
    )
    if second_factor_roles is None:
        second_factor_roles = [r for r in settings.second_factor_roles.split(",") if r.strip()]
    app.state.idle_timeout_s = (
        settings.idle_timeout_minutes * 60 if idle_timeout is None else idle_timeout.total_seconds()
    )
    app.state.second_factor_roles = frozenset(r.strip() for r in second_factor_roles)
    max_age_days = settings.password_max_age_days
    app.state.password_max_age = dt.timedelta(days=max_age_days) if max_age_days else None
    basemap = basemap or settings.basemap
    app.state.basemap = open_archive(basemap) if basemap else None
    app.state.basemap_online = online_sources(
        parse_tile_sources(settings.tiles), tianditu_key=settings.tianditu_key
    )
    install_error_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "服务器内部错误 / internal server error"}, status_code=500)

    for module in (
        auth,
        csp_report,
        health,
        communities,
        grids,
        houses,
        residents,
        staff,
        routing,
        users,
        imports,
        access,
        divisions,
        ogc,
        maps,
        geocode,
        planner,
        incidents,
        open311,
        patrol,
        exports,
        assessment,
        appraisal,
        opinion,
        tiles,
        pages,
    ):
        app.include_router(module.router)
    # Leaflet and plugins for the served maps and pages: no CDN on government intranets
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # the last added runs first: body size, then JSON depth/NaN and bounds, then the clock
    app.add_middleware(RequestTimeout, timeout_s=limits.request_timeout_s)
    app.add_middleware(RequestLimits, limits=limits)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    if cors_origins:  # preflights and every answer (413s too) carry the CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            max_age=600,
        )
    # outermost: every answer, the 413s and 504s above included, carries the headers
    app.add_middleware(SecurityHeaders, behind_tls=settings.behind_tls)
    app.state.limits = limits
    return app

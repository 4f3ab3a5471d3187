"""Typed dependencies of the routes: ``SessionDep``, ``CurrentUser``, ``require_role()``.

The application keeps its session factory, clock and security settings on ``app.state``
(:mod:`api.app`); these dependencies read them from the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.errors import Forbidden, Unauthorized
from api.core.security import ENROL_SCOPE, TokenError, decode_access_token
from api.db.engine import begin_every_write
from api.db.history import set_actor
from api.db.models import RevokedToken, Role, User

__all__ = [
    "ApiState",
    "CurrentClaims",
    "CurrentUser",
    "EnrollingUser",
    "Now",
    "OptionalUser",
    "SessionDep",
    "get_current_user",
    "get_optional_user",
    "get_session",
    "oauth2_scheme",
    "require_role",
]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


class ApiState:
    """What the routes need from ``app.state``."""

    def __init__(self, request: Request) -> None:
        self.state = request.app.state

    @property
    def now(self) -> dt.datetime:
        return self.state.clock()


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def _may_write(request: Request) -> bool:
    """A request that changes something, or an unmasked read (it writes its audit row)."""
    if request.method not in _READ_METHODS:
        return True
    return request.query_params.get("unmask", "").strip().lower() not in _FALSE


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; closed (uncommitted work rolled back) at the end.

    The session of a request that may write starts its transactions as a writer on SQLite
    (:func:`api.db.engine.begin_every_write`): one that read first could not write once
    another writer had committed ("database is locked" at once).
    """
    with request.app.state.sessions() as session:
        if _may_write(request):
            begin_every_write(session)
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_now(request: Request) -> dt.datetime:
    """The application's clock (UTC, timezone-aware); tests move it.

    ``async`` so that FastAPI calls it on the event loop, not through a worker thread.
    """
    return request.app.state.clock()


Now = Annotated[dt.datetime, Depends(get_now)]


def _claims(request: Request, session: Session, token: str) -> dict:
    """The claims of a valid, unrevoked token (401 otherwise)."""
    try:
        claims = decode_access_token(
            token, secret=request.app.state.secret_key, now=request.app.state.clock()
        )
    except TokenError as exc:
        raise Unauthorized(str(exc)) from exc
    jti = claims.get("jti")
    if jti is None or session.get(RevokedToken, jti) is not None:
        raise Unauthorized("令牌已注销，请重新登录 / token signed out: sign in again")
    return claims


def _user_from_token(
    request: Request, session: Session, token: str, *, scopes: frozenset[str] = frozenset()
) -> User:
    """The user of a valid token; a token restricted to a scope passes only where that scope
    is accepted (``scopes``)."""
    claims = _claims(request, session, token)
    scope = claims.get("scope")
    if scope is not None and scope not in scopes:
        raise Unauthorized(
            "此令牌仅可用于绑定动态验证码 / this token only enrols a second factor: enrol, "
            "then sign in again"
        )
    user = session.scalars(select(User).where(User.username == claims["sub"])).first()
    if user is None or not user.active:
        raise Unauthorized("用户不存在或已停用 / user unknown or deactivated")
    if claims.get("gen") != user.token_generation:
        raise Unauthorized(
            "令牌已失效（密码已改或账号已停用）/ token revoked (password changed or account "
            "deactivated): sign in again"
        )
    request.state.token_claims = claims
    set_actor(session, user_id=user.id, username=user.username)
    return user


def get_optional_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User | None:
    """The signed-in user, or None without a token (a bad token is still a 401)."""
    return None if token is None else _user_from_token(request, session, token)


def get_current_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The signed-in user; 401 without a valid token."""
    if token is None:
        raise Unauthorized("需要登录 / not authenticated: send a bearer token from /auth/token")
    return _user_from_token(request, session, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_enrolling_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The signed-in user, or one holding an enrolment token (the password was right, the
    second factor is yet to be enrolled): for TOTP enrolment only."""
    if token is None:
        raise Unauthorized("需要登录 / not authenticated: send a bearer token from /auth/token")
    return _user_from_token(request, session, token, scopes=frozenset({ENROL_SCOPE}))


EnrollingUser = Annotated[User, Depends(get_enrolling_user)]


def get_current_claims(request: Request, user: CurrentUser) -> dict:
    """The claims of the signed-in user's token (``jti``, ``exp``...)."""
    return request.state.token_claims


CurrentClaims = Annotated[dict, Depends(get_current_claims)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def require_role(*roles: Role | str, admin: bool = True) -> Callable[..., User]:
    """Dependency: the signed-in user, if their role is one of ``roles`` (admin always is,
    unless ``admin=False``: the duties kept from the account manager).

    Use as ``user: Annotated[User, Depends(require_role(Role.PLANNER))]``; 403 otherwise.
    """
    allowed = {str(r) for r in roles} | ({Role.ADMIN.value} if admin else set())

    def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(
                f"角色 {user.role} 无权执行此操作 / role {user.role} may not do this; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        return user

    return dependency

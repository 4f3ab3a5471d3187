"""Sign-in: ``POST /auth/token`` (OAuth2 password flow, JWT) and ``GET /auth/me``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from api.db.models import User
from api.deps import CurrentUser, SessionDep
from api.errors import Unauthorized
from api.schemas import Token, UserPublic
from api.security import create_access_token, verify_password
from api.services.privacy import audit

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=Token)
async def login_for_access_token(
    request: Request,
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """登录换取令牌 / Exchange username and password for a bearer token (OAuth2 password).

    Repeated failures for one username are slowed down (per-username backoff).
    """
    state = request.app.state
    await state.throttle.wait(form.username)
    now = state.clock()
    user = await run_in_threadpool(_check_password, session, form.username, form.password, now)
    if user is None:
        state.throttle.record_failure(form.username)
        raise Unauthorized("用户名或密码错误 / incorrect username or password")
    state.throttle.record_success(form.username)
    ttl: dt.timedelta = state.token_ttl
    token = create_access_token(
        subject=user.username, role=user.role, secret=state.secret_key, expires_in=ttl, now=now
    )
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))


def _check_password(session, username: str, password: str, now: dt.datetime) -> User | None:
    """The active user with this password, or None; the attempt is audited either way."""
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    ok = verify_password(password, None if user is None else user.password_hash)
    good = ok and user is not None and user.active
    audit(
        session,
        user=user,
        action="login" if good else "login_failed",
        detail=None if good else {"username": username},
        at=now,
    )
    session.commit()
    return user if good else None


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> UserPublic:
    """当前用户 / The signed-in user."""
    return UserPublic.model_validate(user)

"""Sign-in and sign-out: ``POST /auth/token`` (OAuth2 password flow, JWT, TOTP when required),
``POST /auth/logout``, ``GET /auth/me``, TOTP enrolment and password change.

Sign-in limits (:mod:`api.routes.throttle`) answer ``429`` with ``Retry-After`` at once; every
failure and every refusal is audited.

A user of a role that needs a second factor who has not enrolled one gets, after the right
password, a ``401`` with ``X-Wangge-Second-Factor: enrol`` and an ``enrolment_token``: a token
good for ten minutes and only for ``POST /auth/totp/enrol`` and ``/auth/totp/confirm`` (every
other endpoint answers it 401). Confirming with a first code ends enrolment and answers a full
token, so the pages can enrol such a user without the console. Each TOTP code is good once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.core.errors import Forbidden, TooManyRequests, Unauthorized, Unprocessable
from api.core.security import ENROL_SCOPE, ENROL_TTL, create_access_token, verify_password
from api.core.totp import matching_step, new_totp_secret, provisioning_uri
from api.db.models import RevokedToken, User
from api.routes.deps import CurrentClaims, CurrentUser, EnrollingUser, SessionDep
from api.routes.schemas.users import EnrolTotpAnswer, Token, UserPublic
from api.routes.throttle import record_attempt, refusal
from api.services.accounts import change_password
from api.services.privacy import audit

__all__ = ["SECOND_FACTOR_HEADER", "router"]

router = APIRouter(prefix="/auth", tags=["auth"])

# Tells the sign-in page which step comes next: "required" (ask for the code), "enrol".
SECOND_FACTOR_HEADER = "X-Wangge-Second-Factor"


def client_address(request: Request) -> str:
    """The peer address (proxies' forwarding headers are not trusted)."""
    return (request.client.host if request.client else "unknown")[:64]


@router.post("/token", response_model=Token)
async def login_for_access_token(
    request: Request,
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    otp: Annotated[str | None, Form(description="TOTP 动态码 / TOTP code")] = None,
) -> Token:
    """登录换取令牌 / Exchange username, password (and TOTP code) for a bearer token.

    Too many failures for the account or from the address: ``429`` with ``Retry-After``.
    """
    state = request.app.state
    now = state.clock()
    user = await run_in_threadpool(
        _sign_in, session, state, form.username, form.password, otp, client_address(request), now
    )
    return _full_token(state, user, now)


def _full_token(state, user: User, now: dt.datetime) -> Token:
    ttl: dt.timedelta = state.token_ttl
    token = create_access_token(
        subject=user.username,
        role=user.role,
        secret=state.secret_key,
        expires_in=ttl,
        now=now,
        generation=user.token_generation,
    )
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))


def _sign_in(session, state, username: str, password: str, otp, client: str, now) -> User:
    """The user signing in, or an error; each attempt recorded and audited, then committed."""
    refused = refusal(session, state.sign_in_limits, username=username, client=client, now=now)
    if refused is not None:
        reason, retry_after = refused
        audit(session, user=None, action="login_locked", at=now,
              detail={"username": username, "client": client, "locked": reason,
                      "retry_after_s": retry_after})  # fmt: skip
        session.commit()
        raise TooManyRequests(
            f"尝试过多，请 {retry_after} 秒后再试 / too many failed sign-ins "
            f"({'this account' if reason == 'account' else 'from this address'}): "
            f"retry after {retry_after} s",
            retry_after_s=retry_after,
        )
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    ok = verify_password(password, None if user is None else user.password_hash)
    ok = ok and user is not None and user.active
    step = None
    if ok and user.role in state.second_factor_roles:
        if not user.totp_enabled:
            step = "enrol"
        elif not otp:
            step = "required"
        else:
            used = matching_step(user.totp_secret, otp, at=now, after=user.totp_last_step)
            if used is None:  # wrong, or a code already used once
                ok, step = False, "wrong"
            else:
                user.totp_last_step = used
    if step in ("enrol", "required"):
        # the password was right: not a failure, but no token without the second factor
        audit(session, user=user, action="login_second_factor", at=now,
              detail={"client": client, "step": step})  # fmt: skip
        session.commit()
        headers = {SECOND_FACTOR_HEADER: step, "WWW-Authenticate": "Bearer"}
        if step == "required":
            raise Unauthorized(
                "需要动态验证码 / second factor required: send the 6-digit TOTP code as otp",
                headers=headers,
            )
        enrolment = create_access_token(
            subject=user.username,
            role=user.role,
            secret=state.secret_key,
            expires_in=ENROL_TTL,
            now=now,
            generation=user.token_generation,
            scope=ENROL_SCOPE,
        )
        raise Unauthorized(
            "此角色须先绑定动态验证码 / this role needs a TOTP second factor: enrol with the "
            "enrolment_token (POST /auth/totp/enrol, then /auth/totp/confirm) or "
            "wangge user totp NAME",
            headers=headers,
            extra={
                "enrolment_token": enrolment,
                "token_type": "bearer",
                "expires_in": int(ENROL_TTL.total_seconds()),
            },
        )
    record_attempt(session, username=username, client=client, success=ok, now=now)
    audit(session, user=user if ok else None, action="login" if ok else "login_failed", at=now,
          detail={"client": client} if ok else {"username": username, "client": client,
                                                 **({"otp": "wrong"} if step else {})})  # fmt: skip
    session.commit()
    if not ok:
        raise Unauthorized(
            "动态验证码错误 / incorrect TOTP code"
            if step
            else "用户名或密码错误 / incorrect username or password"
        )
    max_age = state.password_max_age
    changed = user.password_changed_at or user.created_at
    if max_age is not None and changed is not None and now - changed > max_age:
        raise Forbidden("密码已过期，请联系管理员重设 / password expired: ask an administrator")
    return user


@router.post("/logout", status_code=204, response_class=Response)
def logout(session: SessionDep, claims: CurrentClaims) -> None:
    """退出登录：此令牌立即失效 / Sign out: this token is revoked at once."""
    expires = dt.datetime.fromtimestamp(float(claims["exp"]), dt.UTC)
    if session.get(RevokedToken, claims["jti"]) is None:
        session.add(RevokedToken(jti=claims["jti"], expires_at=expires))
    session.commit()


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> UserPublic:
    """当前用户 / The signed-in user."""
    return UserPublic.model_validate(user)


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


@router.post("/password", status_code=204, response_class=Response)
def change_own_password(session: SessionDep, user: CurrentUser, body: PasswordChange,
                        request: Request) -> None:  # fmt: skip
    """修改本人密码（旧令牌全部失效）/ Change your password (every earlier token is revoked)."""
    if not verify_password(body.current_password, user.password_hash):
        raise Unauthorized("当前密码错误 / current password is wrong")
    change_password(user, body.new_password, now=request.app.state.clock())
    audit(session, user=user, action="password_changed", table_name="users", record_id=user.id)
    session.commit()


class TotpCode(BaseModel):
    code: str


@router.post("/totp/enrol", response_model=EnrolTotpAnswer)
def enrol_totp(session: SessionDep, user: EnrollingUser) -> dict[str, Any]:
    """绑定动态验证码：返回密钥 / Start TOTP enrolment: a new secret (confirm with a code).

    Signed in, or with the ``enrolment_token`` the sign-in gave."""
    if user.totp_enabled:
        raise Unprocessable("已绑定 / a second factor is already enrolled")
    user.totp_secret = new_totp_secret()
    session.commit()
    return {"secret": user.totp_secret, "uri": provisioning_uri(user.username, user.totp_secret)}


@router.post("/totp/confirm", response_model=Token)
def confirm_totp(
    session: SessionDep, user: EnrollingUser, body: TotpCode, request: Request
) -> Token:
    """确认绑定（输入一次动态码），返回正式令牌 / Confirm TOTP enrolment with a first code;
    answers a full token (the password and the second factor are both proven)."""
    state = request.app.state
    now = state.clock()
    if user.totp_enabled:
        raise Unprocessable("已绑定 / a second factor is already enrolled")
    used = None
    if user.totp_secret:
        used = matching_step(user.totp_secret, body.code, at=now, after=user.totp_last_step)
    if used is None:
        raise Unprocessable("验证码错误 / wrong code")
    user.totp_enabled, user.totp_last_step = True, used
    claims = request.state.token_claims
    if claims.get("scope") == ENROL_SCOPE:  # the enrolment token has done its job
        expires = dt.datetime.fromtimestamp(float(claims["exp"]), dt.UTC)
        session.add(RevokedToken(jti=claims["jti"], expires_at=expires))
    audit(session, user=user, action="totp_enrolled", table_name="users", record_id=user.id)
    session.commit()
    return _full_token(state, user, now)

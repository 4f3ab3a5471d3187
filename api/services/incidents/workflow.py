"""The incident workflow as an explicit state machine (docs/design.md §2).

A grid worker registers an item (``registered``) and feeds it back to the post-responsible
person of its category (``fed_back``), who starts handling it (``in_progress``) and resolves
it, or escalates it (``escalated``) to the community head or a street department, who signs
receipt (``received``) and resolves it (or, as the community head, escalates it on to a
street department). A resolved item is checked and closed (``closed``). Until it is resolved,
an item may be ``rejected`` with a reason (a duplicate, not a matter for the grid, a false
report). ``closed`` and ``rejected`` are final.

The full table, with the roles allowed to take each transition, is :data:`TRANSITIONS` and
:data:`TRANSITION_ROLES`, and docs/workflow.md. ``admin`` may take every transition.

Refusals:

- :class:`IllegalTransition` (HTTP 409): the action does not apply to the current state;
- :class:`RoleNotAllowed` (HTTP 403): the action applies but not for this role;
- :class:`ReasonRequired` (HTTP 422): ``reject`` without a reason.

Examples
--------
>>> apply_transition("registered", "feed_back", "grid_worker")
'fed_back'
>>> try:
...     apply_transition("registered", "resolve", "post_staff")
... except IllegalTransition as exc:
...     exc.allowed
['feed_back', 'reject']
"""

from __future__ import annotations

from typing import Final, Literal

from api.core.errors import Conflict, Forbidden
from gis.errors import InputError

__all__ = [
    "ACTIONS",
    "FINAL_STATES",
    "OPEN311_STATUS",
    "ROLES",
    "STATES",
    "TRANSITIONS",
    "TRANSITION_ROLES",
    "IllegalTransition",
    "ReasonRequired",
    "RoleNotAllowed",
    "allowed_actions",
    "apply_transition",
    "open311_status",
]

State = Literal[
    "registered", "fed_back", "in_progress", "escalated", "received", "resolved", "closed",
    "rejected",
]  # fmt: skip
Action = Literal["feed_back", "start", "escalate", "receive", "resolve", "close", "reject"]
Role = Literal["grid_worker", "post_staff", "community_head", "street_dept", "admin"]

STATES: Final[dict[str, tuple[str, str]]] = {
    "registered": ("已登记", "registered"),
    "fed_back": ("已反馈岗位责任人", "fed back to the post"),
    "in_progress": ("处理中", "in progress"),
    "escalated": ("已上报", "escalated"),
    "received": ("已签收", "received"),
    "resolved": ("已办结", "resolved"),
    "closed": ("已结案", "closed"),
    "rejected": ("已退回", "rejected"),
}
ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "feed_back": ("反馈岗位责任人", "feed back to the post"),
    "start": ("开始处理", "start handling"),
    "escalate": ("上报社区负责人或街道部门", "escalate to the community head or a street dept"),
    "receive": ("签收", "sign receipt"),
    "resolve": ("办结", "resolve"),
    "close": ("结案", "close"),
    "reject": ("退回", "reject"),
}
ROLES: Final[dict[str, tuple[str, str]]] = {
    "grid_worker": ("网格员", "grid worker"),
    "post_staff": ("岗位责任人", "post-responsible staff"),
    "community_head": ("社区负责人", "community head"),
    "street_dept": ("街道部门", "street department"),
    "admin": ("管理员", "administrator"),
}
FINAL_STATES: Final = frozenset({"closed", "rejected"})

_A = "admin"
# (state, action) -> (new state, roles besides admin)
_TABLE: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("registered", "feed_back"): ("fed_back", ("grid_worker", "community_head")),
    ("registered", "reject"): ("rejected", ("grid_worker", "community_head")),
    ("fed_back", "start"): ("in_progress", ("post_staff",)),
    ("fed_back", "escalate"): ("escalated", ("post_staff",)),
    ("fed_back", "reject"): ("rejected", ("post_staff", "community_head")),
    ("in_progress", "escalate"): ("escalated", ("post_staff",)),
    ("in_progress", "resolve"): ("resolved", ("post_staff",)),
    ("in_progress", "reject"): ("rejected", ("post_staff", "community_head")),
    ("escalated", "receive"): ("received", ("community_head", "street_dept")),
    ("escalated", "reject"): ("rejected", ("community_head", "street_dept")),
    ("received", "resolve"): ("resolved", ("community_head", "street_dept")),
    ("received", "escalate"): ("escalated", ("community_head",)),  # on to a street department
    ("received", "reject"): ("rejected", ("community_head", "street_dept")),
    ("resolved", "close"): ("closed", ("grid_worker", "community_head")),
}

TRANSITIONS: Final[dict[tuple[str, str], str]] = {k: v[0] for k, v in _TABLE.items()}
"""``(state, action) -> new state``: every legal transition."""

TRANSITION_ROLES: Final[dict[tuple[str, str], frozenset[str]]] = {
    k: frozenset((*v[1], _A)) for k, v in _TABLE.items()
}
"""``(state, action) -> roles`` that may take it (``admin`` always)."""

OPEN311_STATUS: Final[dict[str, str]] = {
    state: ("closed" if state in {"resolved", "closed", "rejected"} else "open") for state in STATES
}
"""Open311 GeoReport v2 knows only ``open`` and ``closed``; resolved items count as closed."""


def _zh_en(table: dict[str, tuple[str, str]], key: str) -> tuple[str, str]:
    zh, en = table.get(key, (key, key))
    return f"{key}（{zh}）", f"{key} ({en})"


class IllegalTransition(Conflict):
    """The action does not apply to the current state (a conflict with the stored state)."""

    def __init__(self, state: str, action: str, allowed: list[str]) -> None:
        self.state, self.action, self.allowed = state, action, allowed
        s_zh, s_en = _zh_en(STATES, state)
        a_zh, a_en = _zh_en(ACTIONS, action)
        listed = ", ".join(allowed)
        super().__init__(
            f"状态 {s_zh} 不能执行 {a_zh}；可执行：{listed or '无'} / "
            f"action {a_en} is not allowed in state {s_en}; allowed: {listed or 'none'}"
        )


class RoleNotAllowed(Forbidden, PermissionError):
    """The action applies to the state but the role may not take it (forbidden)."""

    def __init__(self, state: str, action: str, role: str, roles: list[str]) -> None:
        self.state, self.action, self.role, self.roles = state, action, role, roles
        a_zh, a_en = _zh_en(ACTIONS, action)
        r_zh, r_en = _zh_en(ROLES, role)
        listed = ", ".join(roles)
        super().__init__(
            f"角色 {r_zh} 不能在状态 {state} 执行 {a_zh}；可执行的角色：{listed} / role {r_en} "
            f"may not take action {a_en} in state {state}; roles allowed: {listed}"
        )


class ReasonRequired(InputError):
    """``reject`` needs a reason (unprocessable input)."""


def allowed_actions(state: str, role: str | None = None) -> list[str]:
    """Return the actions that apply to ``state`` (for ``role`` if given), in table order.

    >>> allowed_actions("in_progress")
    ['escalate', 'resolve', 'reject']
    >>> allowed_actions("escalated", "post_staff")
    []
    """
    if state not in STATES:
        raise InputError(
            f"未知状态 {state!r}（可用：{', '.join(STATES)}）/ unknown state {state!r} "
            f"(known: {', '.join(STATES)})"
        )
    return [
        action
        for (s, action) in TRANSITIONS
        if s == state and (role is None or role in TRANSITION_ROLES[(s, action)])
    ]


def apply_transition(
    state: str,
    action: str,
    role: str,
    *,
    note: str | None = None,
    reason: str | None = None,
) -> str:
    """Return the state after ``role`` takes ``action`` on an item in ``state``.

    ``note`` is free text kept in the history by the caller (not needed here); ``reason`` is
    required for ``reject`` (blank does not count).

    Raises
    ------
    InputError
        An unknown state, action or role.
    IllegalTransition
        The action does not apply to the state (names the actions that do).
    RoleNotAllowed
        The role may not take the action in this state (names the roles that may).
    ReasonRequired
        ``reject`` without a reason.
    """
    for value, table, what in ((action, ACTIONS, "动作 / action"), (role, ROLES, "角色 / role")):
        if value not in table:
            raise InputError(
                f"未知{what.split(' / ')[0]} {value!r}（可用：{', '.join(table)}）/ unknown "
                f"{what.split(' / ')[1]} {value!r} (known: {', '.join(table)})"
            )
    allowed = allowed_actions(state)
    key = (state, action)
    if key not in TRANSITIONS:
        raise IllegalTransition(state, action, allowed)
    if role not in TRANSITION_ROLES[key]:
        roles = [r for r in ROLES if r in TRANSITION_ROLES[key]]
        raise RoleNotAllowed(state, action, role, roles)
    if action == "reject" and not (reason and reason.strip()):
        raise ReasonRequired("退回须说明理由 / a rejection needs a reason")
    return TRANSITIONS[key]


def open311_status(state: str) -> Literal["open", "closed"]:
    """Return the Open311 status of ``state``: ``closed`` once resolved, closed or rejected.

    >>> open311_status("escalated"), open311_status("resolved")
    ('open', 'closed')
    """
    try:
        return OPEN311_STATUS[state]  # type: ignore[return-value]
    except KeyError:
        raise InputError(f"未知状态 {state!r} / unknown state {state!r}") from None

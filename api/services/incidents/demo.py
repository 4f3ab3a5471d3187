"""Run the demo's incidents through the workflow, with realistic times (``wangge demo``).

The demo stores its incidents as plain rows; :func:`run_demo_workflow` gives them what a
report through the API would (severity, deadline, handling post and handler, history row 1)
and then moves each through the states with a seeded random generator: most are fed back,
started, resolved and closed on time, some late, some escalated (to the community head, a
few on to a street department), a few rejected with a reason, and the most recent still
open — some of those already overdue at the demo's "now" (one day after the last report).

The community gets one fictional post-responsible person per post of the taxonomy (role
``post_staff``), so each item has a handler. Runs inside the caller's transaction (the demo
load is one transaction); the same seed gives the same history.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import Incident, Staff
from api.db.models.incidents import IncidentCategory, IncidentEvent
from api.services.incidents.deadlines import due_at

__all__ = ["DEMO_POST_STAFF", "run_demo_workflow"]

DEMO_POST_STAFF = {  # fictional names, one per post
    "党建岗": "党建岗 · 许文静",
    "经济岗": "经济岗 · 陈立国",
    "城建管理岗": "城建管理岗 · 孙海涛",
    "人口计生岗": "人口计生岗 · 李秀兰",
    "社会事务岗": "社会事务岗 · 张慧敏",
    "综治维稳岗": "综治维稳岗 · 王建军",
}
COMMUNITY_HEAD = "社区负责人 · 周明"
STREET_DEPT = "街道城管中心"
REJECT_REASONS = (
    "重复上报 / duplicate report",
    "不属网格事项 / not a grid matter",
    "现场核实不存在 / not found on the spot",
)
H = dt.timedelta(hours=1)


class _Walker:
    """Moves one incident through states, writing history rows, never past ``now``."""

    def __init__(self, session: Session, incident: Incident, now: dt.datetime, worker: str):
        self.session, self.incident, self.now = session, incident, now
        self.worker = worker
        self.at = incident.reported_at

    def step(
        self,
        action: str,
        to_state: str,
        role: str,
        who: str,
        after: dt.timedelta,
        *,
        note: str | None = None,
        reason: str | None = None,
        **extra: Any,
    ) -> bool:
        when = self.at + after
        if when > self.now:
            return False
        i = self.incident
        self.session.add(
            IncidentEvent(
                incident_id=i.id,
                seq=i.version + 1,
                from_state=i.state,
                to_state=to_state,
                action=action,
                role=role,
                username=who,
                at=when,
                note=note,
                reason=reason,
            )
        )
        i.state, i.version, i.updated_at, self.at = to_state, i.version + 1, when, when
        if to_state == "resolved":
            i.resolved_at = when
        if to_state in ("closed", "rejected"):
            i.closed_at = when
        for key, value in extra.items():
            setattr(i, key, value)
        return True


def _ensure_post_staff(session: Session, community_id: int) -> dict[str, int]:
    posts = {
        s.post: s.id
        for s in session.scalars(
            sa.select(Staff).where(Staff.community_id == community_id, Staff.role == "post_staff")
        )
    }
    for post, name in DEMO_POST_STAFF.items():
        if post not in posts:
            person = Staff(
                name=name,
                role="post_staff",
                post=post,
                community_id=community_id,
                phone_published=False,
                duties=f"{post}事项承办 / handles {post} items",
                active=True,
            )
            session.add(person)
            session.flush()
            posts[post] = person.id
    return posts


def run_demo_workflow(
    session: Session, *, seed: int = 20261101, community_id: int | None = None
) -> dict[str, Any]:
    """Route the demo's stored incidents and run them through the workflow.

    Only incidents without history are touched (idempotent within a load). Returns counts
    per final state and how many were resolved on time / late.
    """
    rng = np.random.default_rng(seed)
    categories = {c.code: c for c in session.scalars(sa.select(IncidentCategory))}
    query = sa.select(Incident).where(
        ~sa.select(IncidentEvent.id).where(IncidentEvent.incident_id == Incident.id).exists()
    )
    if community_id is not None:
        query = query.where(Incident.community_id == community_id)
    incidents = list(session.scalars(query.order_by(Incident.reported_at, Incident.id)))
    if not incidents:
        return {"incidents": 0, "states": {}, "on_time": 0, "late": 0}
    now = max(i.reported_at for i in incidents) + dt.timedelta(days=1)
    staff: dict[int, dict[str, int]] = {}
    on_time = late = 0
    for incident in incidents:
        category = categories.get(incident.category_code)
        severity = category.severity if category else "general"
        post = category.post if category else None
        posts = staff.setdefault(
            incident.community_id, _ensure_post_staff(session, incident.community_id)
        )
        incident.severity = severity
        incident.due_at = due_at(incident.reported_at, severity).due.astimezone(dt.UTC)
        incident.handler_post = post
        incident.handler_staff_id = posts.get(post) if post else None
        incident.state, incident.version = "registered", 1
        incident.reporter_name = "网格员 / grid worker"
        incident.updated_at = incident.reported_at
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                seq=1,
                from_state=None,
                to_state="registered",
                action="report",
                role="grid_worker",
                username="网格员 / grid worker",
                at=incident.reported_at,
                note="示例数据 / demo data",
            )
        )
        if incident.grid_code is None:
            continue  # outside every grid: stays registered for the community head to see
        handler = f"{post}" if post else COMMUNITY_HEAD
        walk = _Walker(session, incident, now, "网格员 / grid worker")
        fate = rng.choice(
            ["on_time", "late", "escalated", "street", "rejected", "stalled"],
            p=[0.58, 0.12, 0.12, 0.04, 0.06, 0.08],
        )
        if not walk.step(
            "feed_back", "fed_back", "grid_worker", walk.worker, H * rng.uniform(0.1, 2.0)
        ):
            continue
        if fate == "rejected":
            walk.step(
                "reject",
                "rejected",
                "post_staff",
                handler,
                H * rng.uniform(0.5, 6),
                reason=str(rng.choice(REJECT_REASONS)),
            )
            continue
        if fate == "stalled" or not walk.step(
            "start", "in_progress", "post_staff", handler, H * rng.uniform(0.2, 4)
        ):
            continue
        if fate in ("escalated", "street"):
            if not walk.step(
                "escalate",
                "escalated",
                "post_staff",
                handler,
                H * rng.uniform(0.5, 8),
                escalated_to="community_head",
                note="超出岗位处置权限 / beyond the post's remit",
            ):
                continue
            if not walk.step(
                "receive", "received", "community_head", COMMUNITY_HEAD, H * rng.uniform(0.2, 4)
            ):
                continue
            resolver_role, resolver = "community_head", COMMUNITY_HEAD
            if fate == "street":
                if not walk.step(
                    "escalate",
                    "escalated",
                    "community_head",
                    COMMUNITY_HEAD,
                    H * rng.uniform(0.5, 6),
                    escalated_to="street_dept",
                    note="需街道部门协调 / needs a street department",
                ):
                    continue
                if not walk.step(
                    "receive", "received", "street_dept", STREET_DEPT, H * rng.uniform(0.5, 6)
                ):
                    continue
                resolver_role, resolver = "street_dept", STREET_DEPT
        else:
            resolver_role, resolver = "post_staff", handler
        left = incident.due_at - walk.at
        if fate == "late" or left <= dt.timedelta(0):
            after = left + H * rng.uniform(1, 72)
        else:
            after = left * rng.uniform(0.1, 0.95)
        after = max(after, dt.timedelta(minutes=5))
        if not walk.step(
            "resolve", "resolved", resolver_role, resolver, after, note="已处置 / handled"
        ):
            continue
        if incident.resolved_at <= incident.due_at:
            on_time += 1
        else:
            late += 1
        walk.step(
            "close",
            "closed",
            "community_head",
            COMMUNITY_HEAD,
            H * rng.uniform(0.5, 24),
            note="核查通过 / checked",
        )
    session.flush()
    states = Counter(i.state for i in incidents)
    return {
        "incidents": len(incidents),
        "now": now.isoformat(),
        "states": dict(sorted(states.items())),
        "on_time": on_time,
        "late": late,
    }

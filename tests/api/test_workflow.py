"""The incident state machine: every legal transition, illegal ones refused, roles, reasons.

The expected table is written out here from the issue's flow; docs/workflow.md must show the
same table as the code.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import pytest

from api.core.errors import http_status
from api.services.incidents.workflow import (
    ACTIONS,
    FINAL_STATES,
    ROLES,
    STATES,
    TRANSITION_ROLES,
    TRANSITIONS,
    IllegalTransition,
    ReasonRequired,
    RoleNotAllowed,
    allowed_actions,
    apply_transition,
    open311_status,
)
from gis.errors import InputError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflow.md"

# (state, action, new state, roles besides admin)
EXPECTED = [
    ("registered", "feed_back", "fed_back", {"grid_worker", "community_head"}),
    ("registered", "reject", "rejected", {"grid_worker", "community_head"}),
    ("fed_back", "start", "in_progress", {"post_staff"}),
    ("fed_back", "escalate", "escalated", {"post_staff"}),
    ("fed_back", "reject", "rejected", {"post_staff", "community_head"}),
    ("in_progress", "escalate", "escalated", {"post_staff"}),
    ("in_progress", "resolve", "resolved", {"post_staff"}),
    ("in_progress", "reject", "rejected", {"post_staff", "community_head"}),
    ("escalated", "receive", "received", {"community_head", "street_dept"}),
    ("escalated", "reject", "rejected", {"community_head", "street_dept"}),
    ("received", "resolve", "resolved", {"community_head", "street_dept"}),
    ("received", "escalate", "escalated", {"community_head"}),
    ("received", "reject", "rejected", {"community_head", "street_dept"}),
    ("resolved", "close", "closed", {"grid_worker", "community_head"}),
]
LEGAL = {(s, a): new for s, a, new, _ in EXPECTED}
ALL_ROLES = ["grid_worker", "post_staff", "community_head", "street_dept", "admin"]


def test_table_is_exactly_the_documented_flow():
    assert set(STATES) == {
        "registered", "fed_back", "in_progress", "escalated", "received", "resolved", "closed",
        "rejected",
    }  # fmt: skip
    assert set(ACTIONS) == {
        "feed_back",
        "start",
        "escalate",
        "receive",
        "resolve",
        "close",
        "reject",
    }
    assert set(ROLES) == set(ALL_ROLES)
    assert TRANSITIONS == LEGAL
    for state, action, _, roles in EXPECTED:
        assert TRANSITION_ROLES[(state, action)] == roles | {"admin"}


@pytest.mark.parametrize(("state", "action", "new", "roles"), EXPECTED)
def test_every_legal_transition_for_every_allowed_role(state, action, new, roles):
    for role in sorted(roles | {"admin"}):
        assert apply_transition(state, action, role, note="ok", reason="重复上报") == new


@pytest.mark.parametrize(("state", "action", "new", "roles"), EXPECTED)
def test_other_roles_are_refused_with_the_roles_that_may(state, action, new, roles):
    for role in sorted(set(ALL_ROLES) - roles - {"admin"}):
        with pytest.raises(RoleNotAllowed) as info:
            apply_transition(state, action, role, reason="r")
        assert http_status(info.value) == 403
        assert set(info.value.roles) == roles | {"admin"}
        message = str(info.value)
        assert role in message and action in message and "admin" in message


@pytest.mark.parametrize("state", list(STATES))
def test_illegal_transitions_name_the_allowed_actions(state):
    allowed = [a for (s, a) in LEGAL if s == state]
    assert allowed_actions(state) == allowed
    for action in ACTIONS:
        if (state, action) in LEGAL:
            continue
        for role in ALL_ROLES:  # refused whoever asks, admin included
            with pytest.raises(IllegalTransition) as info:
                apply_transition(state, action, role, reason="r")
            exc = info.value
            assert http_status(exc) == 409
            assert (exc.state, exc.action, exc.allowed) == (state, action, allowed)
            message = str(exc)
            assert state in message and action in message
            assert all(a in message for a in allowed)
            assert (" / " in message) and re.search(r"[\u4e00-\u9fff]", message)
            if not allowed:
                assert "allowed: none" in message


@pytest.mark.parametrize("reason", [None, "", "   "])
@pytest.mark.parametrize(
    "state", ["registered", "fed_back", "in_progress", "escalated", "received"]
)
def test_reject_needs_a_reason(state, reason):
    with pytest.raises(ReasonRequired, match="needs a reason"):
        apply_transition(state, "reject", "admin", reason=reason)
    assert apply_transition(state, "reject", "admin", reason="重复上报 / duplicate") == "rejected"


def test_final_states_and_reachability():
    assert set(FINAL_STATES) == {"closed", "rejected"}
    for state in FINAL_STATES:
        assert allowed_actions(state) == []
    # every state is reachable from registered, and every state can reach a final state
    graph: dict[str, set[str]] = {}
    for (s, _), new in TRANSITIONS.items():
        graph.setdefault(s, set()).add(new)

    def reachable(start: str) -> set[str]:
        seen, todo = {start}, deque([start])
        while todo:
            for nxt in graph.get(todo.popleft(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable("registered") == set(STATES)
    for state in STATES:
        assert reachable(state) & FINAL_STATES


def test_the_escalation_path_end_to_end():
    state = "registered"
    for action, role in [
        ("feed_back", "grid_worker"),
        ("start", "post_staff"),
        ("escalate", "post_staff"),
        ("receive", "community_head"),
        ("escalate", "community_head"),  # on to a street department
        ("receive", "street_dept"),
        ("resolve", "street_dept"),
        ("close", "grid_worker"),
    ]:
        state = apply_transition(state, action, role, note=f"{role} {action}")
    assert state == "closed"


def test_allowed_actions_for_a_role():
    assert allowed_actions("in_progress", "post_staff") == ["escalate", "resolve", "reject"]
    assert allowed_actions("in_progress", "community_head") == ["reject"]
    assert allowed_actions("escalated", "grid_worker") == []


@pytest.mark.parametrize(
    ("state", "action", "role", "match"),
    [
        ("lost", "start", "admin", "unknown state"),
        ("fed_back", "finish", "admin", "unknown action"),
        ("fed_back", "start", "mayor", "unknown role"),
    ],
)
def test_unknown_names_are_input_errors(state, action, role, match):
    with pytest.raises(InputError, match=match):
        apply_transition(state, action, role)


def test_open311_status():
    expected = {s: "closed" for s in ("resolved", "closed", "rejected")}
    for state in STATES:
        assert open311_status(state) == expected.get(state, "open")
    with pytest.raises(InputError):
        open311_status("lost")


def test_docs_show_the_same_transition_table():
    text = DOCS.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `(\w+)` \| ([\w, ]+) \|$", text, re.M)
    documented = {(s, a): (new, {r.strip() for r in roles.split(",")}) for s, a, new, roles in rows}
    assert documented == {k: (v, set(TRANSITION_ROLES[k])) for k, v in TRANSITIONS.items()}

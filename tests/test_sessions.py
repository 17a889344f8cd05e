"""Every link and de-identification entry point opens its own governance session (issue 13).

A library caller (the CLI, a service, a script) passes no session: each function checks the role,
the spec and a suspension itself, and audits a refusal with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from linkhaven import deid, link
from linkhaven.errors import GateRefused, PermissionDenied
from linkhaven.governance.session import audit_log
from linkhaven.workspace import Workspace
from tests.conftest import Env


def _entry_points(truth: Path) -> dict[str, Callable[[Workspace], Any]]:
    """Each entry point, by the action its session is audited as."""
    return {
        "link.run": lambda ws: link.run_linkage(ws),
        "link.report": lambda ws: link.latest_report(ws),
        "link.evaluate": lambda ws: link.evaluate_current(ws, truth),
        "link.review": lambda ws: link.list_pairs(ws),
        "release.create": lambda ws: deid.create_release(ws, "analyst_panel"),
        "release.approve": lambda ws: deid.approve_release(ws, "REL0001"),
        "release.grant": lambda ws: deid.grant_release(ws, "REL0001", "analyst"),
        "release.revoke": lambda ws: deid.revoke_release(ws, "REL0001", "test"),
        "disclose": lambda ws: deid.disclose(ws, "division_analysts", "x", "deidentified", "test"),
    }


def test_each_entry_point_refuses_a_role_without_the_action_and_audits_it(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKHAVEN_USER", "analyst")
    ws = Workspace.open(env.workspace, env.keys)
    entry_points = _entry_points(tmp_path / "truth.csv")
    for call in entry_points.values():
        with pytest.raises(PermissionDenied):
            call(ws)
    denied = {(e.actor, e.action) for e in audit_log(ws).events() if e.outcome == "denied"}
    assert {("analyst", action) for action in entry_points} <= denied


def test_review_functions_take_no_session_and_audit_their_refusals(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKHAVEN_USER", "linker")
    ws = Workspace.open(env.workspace, env.keys)
    assert link.list_pairs(ws) == []
    for call in (lambda: link.show_pair(ws, 7), lambda: link.decide(ws, 7, "match", "same_person_other")):
        with pytest.raises(Exception, match="no review pair 7"):
            call()
    with pytest.raises(PermissionDenied):
        link.show_pair(ws, 7, user="steward")
    events = [(e.actor, e.action, e.target, e.outcome) for e in audit_log(ws).events() if e.action == "link.review"]
    assert events == [
        ("linker", "link.review", "linkage", "ok"),
        ("linker", "link.review", "review:7", "refused"),
        ("linker", "link.review", "review:7", "refused"),
        ("steward", "link.review", "review:7", "denied"),
    ]


def test_a_missing_release_section_is_refused_inside_the_session(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKHAVEN_USER", "deidentifier")
    ws = Workspace.open(env.workspace, env.keys)
    with pytest.raises(Exception, match="no release section 'nothing'"):
        deid.create_release(ws, "nothing")
    (event,) = [e for e in audit_log(ws).events() if e.action == "release.create"]
    assert event.outcome == "refused" and event.detail["error"] == "SpecError"


def test_suspension_halts_the_link_and_release_entry_points(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert env.as_user("privacy_officer", "project", "suspend", "--reason", "IPC order").code == 0
    ws = Workspace.open(env.workspace, env.keys)
    monkeypatch.setenv("LINKHAVEN_USER", "linker")
    with pytest.raises(GateRefused, match="suspended"):
        link.run_linkage(ws)
    monkeypatch.setenv("LINKHAVEN_USER", "deidentifier")
    with pytest.raises(GateRefused, match="suspended"):
        deid.create_release(ws, "analyst_panel")

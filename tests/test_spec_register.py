"""The spec in force is sealed: an edited spec.yaml stops every command until the privacy officer registers it."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from alembic import command
from sqlalchemy import delete, select, update

from linkhaven import schema
from linkhaven.governance.session import parse_workspace_spec
from linkhaven.workspace import Workspace, store
from tests.conftest import SPEC, Env
from tests.test_spec import laughs

CHANGED = (
    "spec.yaml changed since version 1 was registered; register it with `linkhaven spec update` as the privacy "
    "officer"
)


def _edit_spec(env: Env) -> Path:
    """What an insider would do: stop refusing files that carry health card numbers."""
    path = env.workspace / "spec.yaml"
    text = path.read_text()
    assert text.count("forbidden_columns: [HEALTH_CARD_NO, OHIP_NUMBER, SIN]") == 3
    path.write_text(text.replace("forbidden_columns: [HEALTH_CARD_NO, OHIP_NUMBER, SIN]", "forbidden_columns: []"))
    return path


def _events(env: Env) -> list[dict[str, object]]:
    with Workspace.open(env.workspace).engine.connect() as conn:
        rows = conn.execute(select(schema.audit_events).order_by(schema.audit_events.c.seq)).mappings().all()
    return [dict(r, detail=json.loads(r["detail"])) for r in rows]


def _versions(env: Env) -> list[tuple[int, str]]:
    with Workspace.open(env.workspace).engine.connect() as conn:
        query = select(schema.spec_versions.c.version, schema.spec_versions.c.sha256)
        return [tuple(r) for r in conn.execute(query.order_by(schema.spec_versions.c.version))]  # type: ignore[misc]


def test_init_registers_version_1_with_its_hash(env: Env) -> None:
    assert _versions(env) == [(1, hashlib.sha256(SPEC.read_bytes()).hexdigest())]
    assert (env.workspace / "spec.yaml").read_bytes() == SPEC.read_bytes()
    verified = env.as_user("admin", "audit", "verify", "--json")
    assert verified.code == 0 and verified.json()["spec_version"] == 1  # type: ignore[index]


def test_edited_spec_stops_every_command_until_the_privacy_officer_registers_it(env: Env) -> None:
    edited = _edit_spec(env)
    for user, args in [
        ("steward", ["intake", "status"]),
        ("admin", ["user", "list"]),
        ("privacy_officer", ["notice", "publish", "--date", "2025-07-11"]),
    ]:
        refused = env.as_user(user, *args)
        assert refused.code == 4, (args, refused.err)
        assert CHANGED in " ".join(refused.err.split()), refused.err
    verify = env.as_user("admin", "audit", "verify")
    assert verify.code == 1 and CHANGED in " ".join(verify.err.split())
    refusals = [e for e in _events(env) if e["outcome"] == "refused"]
    assert [e["action"] for e in refusals] == ["intake.status", "user.list", "notice.publish"]
    assert all(e["detail"] == {"reason": "spec_not_registered"} for e in refusals)

    registered = env.as_user("privacy_officer", "spec", "update", str(edited), "--json")
    assert registered.code == 0, registered.err
    assert registered.json()["version"] == 2  # type: ignore[index]
    assert _versions(env)[-1] == (2, hashlib.sha256(edited.read_bytes()).hexdigest())
    assert env.as_user("steward", "intake", "status").code == 0
    assert env.as_user("admin", "user", "list").code == 0
    verified = env.as_user("admin", "audit", "verify", "--json")
    assert verified.code == 0 and verified.json()["spec_version"] == 2  # type: ignore[index]
    update_event = [e for e in _events(env) if e["action"] == "spec.update"][-1]
    assert update_event["outcome"] == "ok" and update_event["actor"] == "privacy_officer"
    assert update_event["detail"]["spec_version"] == 2 and update_event["detail"]["replaces_unregistered"] is True  # type: ignore[index]


def test_spec_update_copies_a_new_spec_into_the_workspace(env: Env, tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    forbidden = "forbidden_columns: [HEALTH_CARD_NO, OHIP_NUMBER, SIN"
    new.write_text(SPEC.read_text().replace(forbidden + "]", forbidden + ", PASSPORT]"))
    assert env.as_user("privacy_officer", "spec", "update", str(new)).code == 0
    assert (env.workspace / "spec.yaml").read_bytes() == new.read_bytes()
    in_force = parse_workspace_spec(Workspace.open(env.workspace))
    assert in_force.source("onsis").forbidden_columns[-1] == "PASSPORT"
    again = env.as_user("privacy_officer", "spec", "update", str(new))
    assert again.code == 1 and "already the spec in force (version 2)" in again.err


def test_only_the_privacy_officer_may_register_a_spec(env: Env) -> None:
    edited = _edit_spec(env)
    for user in ("steward", "admin"):
        refused = env.as_user(user, "spec", "update", str(edited))
        assert refused.code == 3 and "may not spec.update" in refused.err
    denied = [e for e in _events(env) if e["action"] == "spec.update"]
    assert [(e["actor"], e["outcome"]) for e in denied] == [("steward", "denied"), ("admin", "denied")]
    assert _versions(env)[-1][0] == 1
    assert env.as_user("steward", "intake", "status").code == 4


def test_spec_update_refuses_an_invalid_spec_or_another_project(env: Env, tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(SPEC.read_text().replace("purpose: program_planning", "purpose: curiosity"))
    assert "purpose: curiosity" in invalid.read_text()
    refused = env.as_user("privacy_officer", "spec", "update", str(invalid))
    assert refused.code == 2 and "purpose" in refused.err
    other = tmp_path / "other.yaml"
    project_id = Workspace.open(env.workspace).info["project_id"]
    other.write_text(SPEC.read_text().replace(f"id: {project_id}\n", "id: another-project\n", 1))
    moved = env.as_user("privacy_officer", "spec", "update", str(other))
    assert moved.code == 2 and "another-project" in moved.err and "create a new workspace" in moved.err
    hostile = tmp_path / "laughs.yaml"
    hostile.write_text(laughs(9))
    began = time.perf_counter()
    bomb = env.as_user("privacy_officer", "spec", "update", str(hostile))
    assert bomb.code == 2 and "the limit for a project spec" in bomb.err
    assert time.perf_counter() - began < 1.0
    refusals = [e for e in _events(env) if e["action"] == "spec.update"]
    assert [(e["outcome"], e["detail"].get("error")) for e in refusals] == [("refused", "SpecError")] * 3  # type: ignore[union-attr]
    assert _versions(env) == [(1, hashlib.sha256(SPEC.read_bytes()).hexdigest())]
    assert (env.workspace / "spec.yaml").read_bytes() == SPEC.read_bytes()


def test_register_entry_rewritten_without_the_audit_key_is_refused(env: Env) -> None:
    """Editing spec.yaml and writing its hash into the register does not help: the seal is under the audit key."""
    edited = _edit_spec(env)
    with Workspace.open(env.workspace).engine.begin() as conn:
        conn.execute(update(schema.spec_versions).values(sha256=hashlib.sha256(edited.read_bytes()).hexdigest()))
    refused = env.as_user("admin", "user", "list")
    assert refused.code == 4 and "seal not made with the audit key" in refused.err
    assert env.as_user("admin", "audit", "verify").code == 1


def test_rolling_the_register_back_to_an_older_version_is_caught_by_verify(env: Env, tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(SPEC.read_text() + "\n# revised\n")
    assert env.as_user("privacy_officer", "spec", "update", str(new)).code == 0
    with Workspace.open(env.workspace).engine.begin() as conn:
        conn.execute(delete(schema.spec_versions).where(schema.spec_versions.c.version == 2))
    (env.workspace / "spec.yaml").write_bytes(SPEC.read_bytes())
    verify = env.as_user("admin", "audit", "verify", "--json")
    assert verify.code == 1
    assert "the spec register ends at version 1 but the audit log records version 2" in verify.json()["problem"]  # type: ignore[index,operator]


def test_workspace_from_before_sealed_specs_asks_for_the_spec_to_be_registered(env: Env) -> None:
    ws = Workspace.open(env.workspace)
    config = store._alembic_config()
    with ws.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    env.clients.restart(forget_sign_ins=True)  # the service's next start upgrades the store (accounts are new)
    refused = env.as_user("admin", "user", "list")
    assert refused.code == 4 and "registered before spec versions were sealed" in refused.err
    assert env.as_user("privacy_officer", "spec", "update", str(env.workspace / "spec.yaml")).code == 0
    assert env.as_user("admin", "user", "list").code == 0
    assert [v for v, _ in _versions(env)] == [1, 2]

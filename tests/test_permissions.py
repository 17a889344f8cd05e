"""The whole permission matrix, role by action, against a table written out independently here."""

from __future__ import annotations

import pytest

from linkhaven.governance.permissions import MATRIX, Action, Role, decide

A, S, L, D, P, N = "admin", "steward", "linker", "deidentifier", "privacy_officer", "analyst"
STAFF = {A, S, L, D, P}
EXPECTED: dict[str, set[str]] = {
    "user.add": {A},
    "user.list": {A, P},
    "account.manage": {A},
    "audit.verify": STAFF,
    "audit.show": {A, P},
    "audit.anchor": {A, P},
    "spec.update": {P},
    "notice.publish": {P},
    "notice.list": STAFF,
    "agreement.add": {P},
    "agreement.list": STAFF,
    "intake.run": {S},
    "intake.status": {S, P},
    "quarantine.list": {S},
    "quarantine.export": {S},
    "link.run": {L},
    "link.review": {L},
    "link.evaluate": {L},
    "link.report": {L, P},
    "release.create": {D},
    "release.approve": {P},
    "release.grant": {P},
    "release.revoke": {P},
    "release.read": {N},
    "release.list": {D, P, N},
    "disclose": {P},
    "publish.run": {D},
    "publish.list": STAFF | {N},
    "retention.status": {A, P},
    "retention.run": {A},
    "incident.manage": {P},
    "assessment.add": {P},
    "project.suspend": {A, P},
    "oversight.pack": {P},
}


def test_every_action_is_in_the_expected_table() -> None:
    assert {a.value for a in Action} == set(EXPECTED)
    assert set(MATRIX) == set(Action)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_by_action(role: Role, action: Action) -> None:
    decision = decide(role, action)
    assert decision.allowed == (role.value in EXPECTED[action.value])
    assert action.value in decision.reason


def test_analyst_may_only_read_releases_and_publications() -> None:
    assert {a.value for a in Action if decide(Role.ANALYST, a).allowed} == {
        "release.read",
        "release.list",
        "publish.list",
    }


def test_identity_review_is_linker_only() -> None:
    assert [r for r in Role if decide(r, Action.LINK_REVIEW).allowed] == [Role.LINKER]


def test_unregistered_user_is_denied_everything() -> None:
    assert not any(decide(None, a).allowed for a in Action)

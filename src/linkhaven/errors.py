"""The few exception types linkhaven raises on purpose.

Every message must tell the user what to do next, and must never carry a personal value
(a name, a date of birth, an identifier, a postal code, a cell of an input file): messages end up in
terminals, CI logs and audit events. Name the file, row, field and what was expected instead.
The CLI maps each type to an exit code, so scripts can tell a refusal from a failure.
"""

from __future__ import annotations


class LinkhavenError(Exception):
    """Base of every expected failure; the CLI prints the message without a traceback."""

    exit_code = 1


class SpecError(LinkhavenError):
    """The project spec is wrong; the message lists every problem with its YAML path and line."""

    exit_code = 2


class PermissionDenied(LinkhavenError):
    """The acting user's role may not perform the action. Refusals are audited before raising."""

    exit_code = 3


class ZoneKeyError(LinkhavenError):
    """A zone's key is missing, wrong, destroyed, or a zone file failed authentication."""


class AuditChainBroken(LinkhavenError):
    """The audit log was edited, reordered or truncated."""


class WorkspaceError(LinkhavenError):
    """The workspace is missing, incomplete, or used in a way its state does not allow."""


class InputError(LinkhavenError):
    """An input file cannot be used as a whole (unreadable, wrong encoding, missing columns)."""


class GateRefused(LinkhavenError):
    """A governance gate refused the operation (notice, agreement, duplicate delivery, suspension)."""

    exit_code = 4


class SpecChanged(GateRefused):
    """The workspace's spec.yaml is not the spec version registered in force: edited, missing, or its
    register entry is not sealed with the audit key. Commands refuse until it is registered again."""

"""linkhaven: run a FIPPA Part III.1 data integration unit end to end.

The package is a library first; the `linkhaven` command is a thin layer over it.
"""

from linkhaven.errors import (
    AuditChainBroken,
    GateRefused,
    InputError,
    LinkhavenError,
    PermissionDenied,
    SpecError,
    WorkspaceError,
    ZoneKeyError,
)

__version__ = "0.1.0"

__all__ = [
    "AuditChainBroken",
    "GateRefused",
    "InputError",
    "LinkhavenError",
    "PermissionDenied",
    "SpecError",
    "WorkspaceError",
    "ZoneKeyError",
    "__version__",
]

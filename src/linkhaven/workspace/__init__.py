"""Workspace: zones, keys, encryption, metadata store.

`Workspace` is imported lazily because governance (audit) and the workspace depend on the same
metadata store module; importing it eagerly here would make them import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from linkhaven.workspace.keys import ZONES, KeyDirectory
from linkhaven.workspace.zones import Zone, ZoneFile

if TYPE_CHECKING:
    from linkhaven.workspace.workspace import Act, Workspace, acting_user

__all__ = ["ZONES", "Act", "KeyDirectory", "Workspace", "Zone", "ZoneFile", "acting_user"]


def __getattr__(name: str) -> Any:
    if name in {"Act", "Workspace", "acting_user"}:
        from linkhaven.workspace import workspace

        return getattr(workspace, name)
    raise AttributeError(name)

"""Workspace: the storage layer (zones, keys, encryption, the metadata store); it imports no stage."""

from __future__ import annotations

from linkhaven.workspace.keys import ZONES, KeyDirectory
from linkhaven.workspace.workspace import Workspace, acting_user
from linkhaven.workspace.zones import Zone, ZoneFile

__all__ = ["ZONES", "KeyDirectory", "Workspace", "Zone", "ZoneFile", "acting_user"]

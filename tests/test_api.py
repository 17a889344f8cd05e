"""The public API: every name in `linkhaven.__all__` resolves, and importing linkhaven stays light."""

from __future__ import annotations

import subprocess
import sys

import linkhaven


def test_every_public_name_resolves() -> None:
    missing = [name for name in linkhaven.__all__ if getattr(linkhaven, name, None) is None]
    assert missing == []


def test_stage_entry_points_are_public() -> None:
    assert {
        "open_workspace",
        "create_workspace",
        "intake_file",
        "run_linkage",
        "create_release",
        "publish_release",
    } <= set(linkhaven.__all__)


def test_importing_linkhaven_does_not_load_the_stages() -> None:
    code = "import sys, linkhaven; print(any(m.startswith(('splink', 'linkhaven.link')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

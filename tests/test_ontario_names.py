"""The library reads no Ontario source or field name: a unit with other sources needs another spec, not
other code (issue 13). Only the synthetic generator (which fabricates Ontario-shaped extracts) and the
Ontario derivations module (the named rules an Ontario spec chooses) may name them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "linkhaven"
ONTARIO_NAMES = re.compile(r"(?<![a-z])(cpin|onsis|eqao|oen)(?![a-z])", re.IGNORECASE)
ALLOWED = ("synth/", "derivations/ontario.py")


def test_no_ontario_source_or_field_name_outside_the_generator_and_the_ontario_derivations() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(ROOT.rglob("*"))
        if path.is_file()
        and path.suffix in {".py", ".html", ".j2", ".jinja", ".md", ".txt", ".yaml", ".yml", ".css", ".js", ".sql"}
        and not str(path.relative_to(ROOT)).startswith(ALLOWED)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ONTARIO_NAMES.search(line)
    ]
    assert found == [], "Ontario names in the library:\n" + "\n".join(found)


def test_the_check_finds_a_name_where_there_is_one() -> None:
    assert ONTARIO_NAMES.search("spine = 'onsis'") and ONTARIO_NAMES.search("OEN check")
    assert not ONTARIO_NAMES.search("CONSISTENCY_ERROR, reasons, phoenix")

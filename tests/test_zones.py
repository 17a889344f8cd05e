"""Zone encryption: round trip, wrong or missing key refused, no plaintext bytes on disk."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pyarrow as pa
import pytest

from linkhaven.errors import WorkspaceError, ZoneKeyError
from linkhaven.workspace import crypto
from linkhaven.workspace.keys import KeyDirectory
from linkhaven.workspace.zones import Zone

NAMES = ["Bélanger-Côté", "Oluwaseun", "Nakamura", "Kowalczyk"]


def _table(n: int = 2000) -> pa.Table:
    return pa.table(
        {
            "family_name": [NAMES[i % 4] for i in range(n)],
            "oen": [f"{123456780 + i:09d}" for i in range(n)],
            "birth_date": pa.array([f"2009-0{1 + i % 9}-1{i % 10}" for i in range(n)]),
        }
    )


def test_round_trip(tmp_path: Path) -> None:
    zone = Zone("identity", tmp_path, secrets.token_bytes(32))
    written = zone.write("cpin_identity", _table())
    assert written.rows == 2000 and len(written.sha256) == 64
    assert zone.read("cpin_identity").equals(_table())


def test_no_plaintext_in_zone_files(tmp_path: Path) -> None:
    zone = Zone("identity", tmp_path, secrets.token_bytes(32))
    zone.write("t", _table())
    raw = (tmp_path / "t.lhz").read_bytes()
    for needle in ["Bélanger-Côté", "Oluwaseun", "Nakamura", "123456780", "family_name", "PAR1"]:
        assert needle.encode() not in raw


def test_wrong_key_is_refused(tmp_path: Path) -> None:
    Zone("content", tmp_path, secrets.token_bytes(32)).write("t", _table(10))
    with pytest.raises(ZoneKeyError, match="wrong or the file was altered"):
        Zone("content", tmp_path, secrets.token_bytes(32)).read("t")


def test_file_moved_to_another_table_is_refused(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    zone = Zone("content", tmp_path, key)
    zone.write("a", _table(10))
    (tmp_path / "a.lhz").rename(tmp_path / "b.lhz")
    with pytest.raises(ZoneKeyError):
        zone.read("b")


def test_truncated_and_flipped_files_are_refused() -> None:
    key = secrets.token_bytes(32)
    size = crypto.SEGMENT * 2 + 10
    sealed = b"".join(crypto.seal(io.BytesIO(b"x" * size), size, key, "z/t"))
    assert crypto.open_sealed(sealed, key, "z/t", "f") == b"x" * (crypto.SEGMENT * 2 + 10)
    segment_bytes = 4 + crypto.SEGMENT + 16
    cut_at_boundary = sealed[: 12 + 2 * segment_bytes]
    with pytest.raises(ZoneKeyError):
        crypto.open_sealed(cut_at_boundary, key, "z/t", "f")
    flipped = bytearray(sealed)
    flipped[100] ^= 1
    with pytest.raises(ZoneKeyError):
        crypto.open_sealed(bytes(flipped), key, "z/t", "f")


def test_tables_are_never_rewritten(tmp_path: Path) -> None:
    zone = Zone("content", tmp_path, secrets.token_bytes(32))
    zone.write("t", _table(5))
    with pytest.raises(WorkspaceError):
        zone.write("t", _table(5))


def test_missing_key_file_names_the_fix(tmp_path: Path) -> None:
    keys = KeyDirectory(tmp_path / "keys")
    keys.create_all()
    keys.destroy("identity")
    with pytest.raises(ZoneKeyError, match="LINKHAVEN_KEYS"):
        keys.load("identity")


def test_key_directory_is_never_overwritten(tmp_path: Path) -> None:
    keys = KeyDirectory(tmp_path / "keys")
    keys.create_all()
    with pytest.raises(ZoneKeyError, match="already holds keys"):
        keys.create_all()

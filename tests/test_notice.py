"""The public notice rendered from a spec states what the published Ontario notice states."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from linkhaven.cli import run
from linkhaven.spec import NoticeFormat, load_spec, render_notice

ROOT = Path(__file__).resolve().parents[1]
ONTARIO = ROOT / "projects" / "ontario-children-in-care.yaml"
# The notice Ontario published, copied from the unit's public page so the suite needs nothing outside the clone.
PUBLISHED = ROOT / "tests" / "fixtures" / "ontario-public-notice.txt"

# The published demographic bullet groups its items in prose ("... and other personal attributes,
# such as ..."); the rendered one lists the same items generated from the fields.
DEMOGRAPHIC_ITEMS = [
    "demographic information for children and youth in out-of-home care",
    "age",
    "gender identity",
    "race",
    "place of birth (in or outside of Canada)",
    "first language learned at home",
]

REQUIRED_ITEMS = [
    "human-trafficking risk",
    "case type",
    "cumulative days in care",
    "placement type",
    "name of school board",
    "grade of enrollment",
    "attendance",
    "credit accumulation",
    "Education Quality and Accountability Office’s (EQAO) standardized assessments",
    *DEMOGRAPHIC_ITEMS,
    "section 49.2 and section 49.4",
    "young audiences",
    "MCCSSdata@ontario.ca",
]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plain_text(rendered: str, fmt: NoticeFormat) -> str:
    """The rendered notice's words, without markup."""
    if fmt is NoticeFormat.HTML:
        body = rendered.split("<body>", 1)[1]
        return _squash(html.unescape(re.sub(r"<[^>]+>", " ", body)))
    lines = []
    for line in rendered.splitlines():
        line = re.sub(r"^(#+ |- |\d+\. )", "", line).removesuffix("\\")
        lines.append(line.strip("<>") if "@" in line else line)
    return _squash(" ".join(lines))


def published_statements() -> list[str]:
    """Every line of the published notice, without its bullet or number."""
    statements = []
    for line in PUBLISHED.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"^\s*(•|\d+\.)\s*", "", line).strip()
        if line:
            statements.append(_squash(line))
    return statements


@pytest.fixture(scope="module")
def spec_yaml() -> str:
    return ONTARIO.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", list(NoticeFormat))
def test_rendered_notice_states_every_published_statement(fmt: NoticeFormat) -> None:
    text = plain_text(render_notice(load_spec(ONTARIO), fmt), fmt)
    missing = [
        statement
        for statement in published_statements()
        if statement not in text and not statement.startswith(DEMOGRAPHIC_ITEMS[0])
    ]
    assert not missing, "statements of the published notice missing from the rendered one:\n" + "\n".join(missing)
    for item in REQUIRED_ITEMS:
        assert item in text, item


@pytest.mark.parametrize("fmt", list(NoticeFormat))
def test_notice_dates_come_first(fmt: NoticeFormat) -> None:
    text = plain_text(render_notice(load_spec(ONTARIO), fmt), fmt)
    assert text.index("Revised: July 11, 2025") < text.index("Originally published: July 26, 2024")
    assert text.index("Originally published") < text.index("Information collected")


def test_html_is_self_contained() -> None:
    page = render_notice(load_spec(ONTARIO), NoticeFormat.HTML)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "http" not in page
    assert not re.search(r"<(script|link|img|iframe|object)\b", page)
    assert "@import" not in page and "url(" not in page


def test_html_escapes_spec_text(tmp_path: Path, spec_yaml: str) -> None:
    data = yaml.safe_load(spec_yaml)
    data["purpose_statement"] = "Findings <b>matter</b> & help."
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    page = render_notice(load_spec(path), NoticeFormat.HTML)
    assert "Findings &lt;b&gt;matter&lt;/b&gt; &amp; help." in page


def test_another_units_spec_renders_its_own_notice(tmp_path: Path, spec_yaml: str) -> None:
    data = yaml.safe_load(spec_yaml)
    data["project"].update(unit="Ministry Data Integration Unit", unit_abbreviation="MDIU")
    data["categories"]["child_welfare"]["notice_text"] = "service information, namely {items}"
    cpin_fields = data["sources"]["cpin"]["fields"]
    for field in cpin_fields:
        if field["category"] == "child_welfare":
            field.pop("notice_label", None)
    cpin_fields[-1]["notice_label"] = "end of service"
    del data["recipients"]["ancfsao"]
    data["recipients"]["young_audiences"]["through"].remove("ancfsao")
    data["legal_authority"]["sections"] = ["49.2"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    text = plain_text(render_notice(load_spec(path), NoticeFormat.MD), NoticeFormat.MD)
    assert "service information, namely end of service" in text
    assert "human-trafficking" not in text
    assert "In its role as an MDIU" in text and "members of the MDIU within MCCSS" in text
    assert "Association of Native Child and Family Services" not in text
    assert "under section 49.2 of the" in text


def test_notice_render_command_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "notice.html"
    assert run(["notice", "render", "--spec", str(ONTARIO), "--format", "html", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_notice(load_spec(ONTARIO), NoticeFormat.HTML)
    capsys.readouterr()
    assert run(["notice", "render", "--spec", str(ONTARIO), "--format", "md"]) == 0
    assert capsys.readouterr().out == render_notice(load_spec(ONTARIO), NoticeFormat.MD)
    assert run(["notice", "render", "--spec", str(ONTARIO), "--format", "pdf"]) == 2

"""Project spec: models, YAML loading with line numbers, lookups, and the `spec check` command."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from linkhaven.cli import run
from linkhaven.errors import SpecError
from linkhaven.spec import DataClass, FieldType, ProjectSpec, Role, load_spec, spec_hash

ROOT = Path(__file__).resolve().parents[1]
ONTARIO = ROOT / "projects" / "ontario-children-in-care.yaml"
LAYOUTS = ROOT / "docs" / "extract-layouts.md"

# A small but complete spec; each test breaks one or more lines of it.
MINIMAL = """\
project:
  id: test-unit
  title: Test project
  unit: Test Data Integration Unit
  unit_abbreviation: TDIU
  division: Test Division
  ministry: Ministry of Tests
  ministry_abbreviation: MOT
purpose: program_evaluation
purpose_statement: Findings improve the tested program.
legal_authority:
  act: Freedom of Information and Protection of Privacy Act
  part: III.1
  sections: ["49.2"]
populations:
  - id: clients
    description: clients of the tested program in school years {window}
window:
  first_school_year: 2020-21
  last_school_year: 2021-22
  start_date: 2020-09-01
  end_date: 2022-08-31
sources:
  registry:
    institution: Ministry of Tests
    system: Test Registry (TR)
    legal_source_type: institution
    format: {type: csv}
    record_id: source_record_id
    populations: [clients]
    forbidden_columns: [SIN]
    fields:
      - name: source_record_id
        column: REC_ID
        type: string
        data_class: personal
        role: direct_identifier
        category: identifying
        required: true
      - name: birth_date
        column: DOB
        type: date
        date_format: "%Y-%m-%d"
        data_class: personal
        role: direct_identifier
        category: identifying
        notice_label: dates of birth
      - name: outcome
        column: OUTCOME
        type: code
        code_list: outcome
        data_class: coded
        role: program
        category: program
        notice_label: program outcome
code_lists:
  outcome: [good, bad]
categories:
  identifying:
    name: Identifying information
    notice_text: identifying information such as {items}
  program:
    name: Program information
    notice_text: program information such as {items}
recipients:
  analysts:
    name: analysts of the Test Division
    kind: internal_analyst
    data_classes: [deidentified]
  public:
    name: the public
    kind: public
    data_classes: [aggregate]
disclosure_bases:
  ipc: to the Information and Privacy Commissioner of Ontario
thresholds:
  invasion_level: medium
  risk_threshold: 0.075
linkage:
  accept_probability: 0.9
  review_lower_probability: 0.5
  fields: {birth_date: {kind: date}}
  sources: {registry: {fields: {birth_date: birth_date}}}
  dedupe: [{source: registry}]
  comparisons: [{field: birth_date}]
retention:
  days: {identity: 365, content: 730, linkage: 730, releases: 365, publications: 730, audit: 3650}
contact:
  title: Manager, Test Unit
  unit: Test Unit
  division: Test Division
  ministry: Ministry of Tests
  address_lines: [1 Test Street, "Toronto, Ontario"]
  postal_code: M5V 1A1
  email: tests@example.org
notice:
  title: Notice of indirect collection for the test project
  originally_published: 2024-01-15
  collected_from: institutions
  deidentification_statement: The information is linked and then de-identified.
  data_standards_statement: The ministry complies with the Data Standards.
  contact_intro: "Questions may be directed to:"
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, start: int = 1) -> int:
    """1-based line of the first line at or after `start` that contains `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [line for line in str(caught.value).splitlines() if line.startswith(f"{path}:")]


def assert_problem(problems: list[str], path: Path, line: int, dotted: str, *words: str) -> None:
    prefix = f"{path}:{line}: {dotted}: "
    matching = [problem for problem in problems if problem.startswith(prefix)]
    assert matching, f"no problem starting {prefix!r} in:\n" + "\n".join(problems)
    for word in words:
        assert any(word in problem for problem in matching), f"{word!r} not in {matching}"


def test_minimal_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MINIMAL))
    assert spec.project.id == "test-unit"
    assert spec.thresholds.risk_threshold == 0.075
    assert spec.window.school_years == ("2020-21", "2021-22")


def test_wrong_purpose_names_line_and_expected_values(tmp_path: Path) -> None:
    text = MINIMAL.replace("purpose: program_evaluation", "purpose: curiosity_driven")
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert len(problems) == 1
    assert_problem(problems, path, line_of(text, "purpose: curiosity"), "purpose", "program_planning")


def test_missing_field_points_at_enclosing_key(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  division: Test Division\n  ministry: Ministry of Tests\n  ministry_abbreviation",
        "  ministry: Ministry of Tests\n  ministry_abbreviation",
    )
    path = write(tmp_path, text)
    assert_problem(problems_of(path), path, line_of(text, "project:"), "project.division", "required but missing")


def test_unknown_key_is_refused_and_the_right_keys_suggested(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "        notice_label: program outcome\n", "        notice_label: program outcome\n        colour: blue\n"
    )
    path = write(tmp_path, text)
    assert_problem(
        problems_of(path), path, line_of(text, "colour: blue"), "sources.registry.fields.2.colour",
        "unknown key", "code_list",
    )  # fmt: skip


def test_code_list_that_does_not_exist(tmp_path: Path) -> None:
    text = MINIMAL.replace("code_list: outcome", "code_list: outcomes")
    path = write(tmp_path, text)
    assert_problem(
        problems_of(path), path, line_of(text, "code_list: outcomes"), "sources.registry.fields.2.code_list",
        "'outcomes' is not declared",
    )  # fmt: skip


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("  title: Test project\n", "  title: [Test project\n")
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    match = re.match(rf"{re.escape(str(path))}:(\d+): YAML syntax", str(caught.value))
    assert match is not None, str(caught.value)
    # PyYAML notices the unclosed flow sequence on a following line; it must not be before the cause.
    assert line_of(text, "title: [Test") <= int(match.group(1)) <= line_of(text, "title: [Test") + 2


def test_risk_threshold_looser_than_the_invasion_level_allows(tmp_path: Path) -> None:
    text = MINIMAL.replace("  risk_threshold: 0.075", "  risk_threshold: 0.1")
    path = write(tmp_path, text)
    assert_problem(
        problems_of(path), path, line_of(text, "risk_threshold: 0.1"), "thresholds.risk_threshold",
        "at most 0.075", "stricter",
    )  # fmt: skip


def test_risk_threshold_defaults_to_the_invasion_level(tmp_path: Path) -> None:
    text = MINIMAL.replace("  invasion_level: medium\n  risk_threshold: 0.075\n", "  invasion_level: high\n")
    assert load_spec(write(tmp_path, text)).thresholds.risk_threshold == 0.05


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("purpose: program_evaluation", "purpose: curiosity_driven")
        .replace("code_list: outcome", "code_list: outcomes")
        .replace('        date_format: "%Y-%m-%d"\n', "")
        .replace("  min_cell_size: 10\n", "")
        .replace("  risk_threshold: 0.075", "  risk_threshold: 0.075\n  min_cell_size: 4")
        .replace("  review_lower_probability: 0.5", "  review_lower_probability: 0.95")
    )
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert_problem(problems, path, line_of(text, "purpose: curiosity"), "purpose")
    assert_problem(problems, path, line_of(text, "code_list: outcomes"), "sources.registry.fields.2.code_list")
    dob_item = line_of(text, "- name: birth_date")
    assert_problem(problems, path, dob_item, "sources.registry.fields.1.date_format", "required for a date field")
    assert_problem(problems, path, line_of(text, "min_cell_size: 4"), "thresholds.min_cell_size", "reason")
    assert_problem(
        problems, path, line_of(text, "accept_probability"), "linkage.accept_probability", "review_lower_probability"
    )
    assert len(problems) == 5
    assert [int(p.split(":")[1]) for p in problems] == sorted(int(p.split(":")[1]) for p in problems)


def test_messages_never_echo_the_offending_value(tmp_path: Path) -> None:
    text = MINIMAL.replace("purpose: program_evaluation", "purpose: Jane-Doe-1990-01-01").replace(
        "  email: tests@example.org", "  email: Jane-Doe-1990-01-01"
    )
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert "Jane" not in str(caught.value)
    assert "an email address" in str(caught.value)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  unit: Test Data Integration Unit\n", "  unit: Test Data Integration Unit\n  unit: Other\n"
    )
    path = write(tmp_path, text)
    assert_problem(problems_of(path), path, line_of(text, "unit: Other"), "project.unit", "appears twice")


@pytest.mark.parametrize(
    ("old", "new", "needle", "dotted", "words"),
    [
        # a direct identifier must stay personal
        ("        data_class: personal\n        role: direct_identifier\n        category: identifying\n        notice",
         "        data_class: coded\n        role: direct_identifier\n        category: identifying\n        notice",
         "data_class: coded", "sources.registry.fields.1.data_class", ("identity zone",)),
        # the record id must name a field
        ("    record_id: source_record_id", "    record_id: episode_id", "record_id: episode_id",
         "sources.registry.record_id", ("canonical name",)),
        # a forbidden column can never be mapped
        ("    forbidden_columns: [SIN]", "    forbidden_columns: [sin, outcome]", "column: OUTCOME",
         "sources.registry.fields.2.column", ("forbidden_columns",)),
        # canonical names are unique per source
        ("      - name: outcome", "      - name: birth_date", "- name: birth_date\n", "sources.registry.fields.2.name",
         ("already used",)),
        # a minimum cell size below 3 is never allowed
        ("  risk_threshold: 0.075", "  risk_threshold: 0.075\n  min_cell_size: 2", "min_cell_size: 2",
         "thresholds.min_cell_size", ("greater than or equal to 3",)),
        # outside readers get aggregates only
        ("    kind: public\n    data_classes: [aggregate]", "    kind: public\n    data_classes: [deidentified]",
         "data_classes: [deidentified]\n", "recipients.public.data_classes", ("aggregate",)),
        # the notice's placeholders are checked
        ("notice_text: program information such as {items}", "notice_text: program information such as {itemz}",
         "{itemz}", "categories.program.notice_text", ("unknown placeholder",)),
        # a population nobody collects about cannot be announced
        ("populations:\n  - id: clients\n", "populations:\n  - id: ghosts\n    description: nobody\n  - id: clients\n",
         "id: ghosts", "populations.0", ("no source covers",)),
    ],
)  # fmt: skip
def test_rule_violations_point_at_their_line(
    tmp_path: Path, old: str, new: str, needle: str, dotted: str, words: tuple[str, ...]
) -> None:
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    path = write(tmp_path, text)
    if needle.endswith("\n"):  # the second occurrence
        line = line_of(text, needle.strip(), line_of(text, needle.strip()) + 1)
    else:
        line = line_of(text, needle)
    assert_problem(problems_of(path), path, line, dotted, *words)


def test_models_enforce_rules_without_the_loader() -> None:
    import yaml

    data = yaml.safe_load(MINIMAL.replace("code_list: outcome", "code_list: outcomes"))
    with pytest.raises(ValidationError, match="not declared under code_lists"):
        ProjectSpec.model_validate(data)


def test_spec_is_frozen(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MINIMAL))
    with pytest.raises(ValidationError):
        spec.project.id = "other"  # type: ignore[misc]


def test_unreadable_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "absent.yaml")


def test_spec_hash_is_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert spec_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()



# --- hostile YAML: refused quickly, with the line and the limit -------------------------------------


def laughs(levels: int) -> str:
    """The "billion laughs": each line is ten aliases of the line before; `levels` lines expand 10**levels."""
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, levels):
        text += f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]\n"
    return text


HOSTILE = {
    # A million laughs is enough to exceed the limit, and finishes (slowly) on a loader without limits.
    "million_laughs": (laughs(6), "250,000 keys and values"),
    "billion_laughs": (laughs(9), "250,000 keys and values"),
    "deep_flow": ("sources: " + "[" * 10_000 + "]" * 10_000 + "\n", "50 levels"),
    "deep_block": ("- " * 10_000 + "x\n", "50 levels"),
    "deep_through_aliases": (
        "".join(f"a{i}: &a{i} [[[[[[[[[[{f'*a{i - 1}' if i else 1}]]]]]]]]]]\n" for i in range(10)),
        "50 levels",
    ),
    "many_aliases": ("base: &b 1\nlist: [" + ", ".join(["*b"] * 1_001) + "]\n", "1,000 aliases"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_yaml_is_refused_fast_naming_line_and_limit(tmp_path: Path, name: str) -> None:
    text, limit = HOSTILE[name]
    path = write(tmp_path, text)
    began = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert time.perf_counter() - began < 1.0
    message = str(caught.value)
    assert limit in message and "the limit for a project spec" in message
    assert re.search(rf"^{re.escape(str(path))}:\d+: ", message, re.MULTILINE), message


@pytest.mark.parametrize("name", ["billion_laughs", "deep_flow"])
def test_spec_check_refuses_hostile_yaml(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HOSTILE[name][0])
    began = time.perf_counter()
    assert run(["spec", "check", str(path)]) == 2
    assert time.perf_counter() - began < 1.0
    assert HOSTILE[name][1] in capsys.readouterr().err


def test_oversized_spec_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:
        handle.write(b"# " + b"x" * (50 * 1024 * 1024) + b"\n")
    began = time.perf_counter()
    with pytest.raises(SpecError, match=r"1,048,576 bytes \(1 MiB\)"):
        load_spec(path)
    assert time.perf_counter() - began < 1.0


def test_recursive_alias_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "project: {id: x}\nsources: &s {a: *s}\n")
    with pytest.raises(SpecError, match=rf"{re.escape(str(path))}:2: .*recursive alias"):
        load_spec(path)


def test_anchors_aliases_and_merge_keys_within_the_limits_still_load(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "      - name: outcome\n        column: OUTCOME\n        type: code\n",
        "      - <<: &program_code {type: code, data_class: coded}\n        name: outcome\n        column: OUTCOME\n",
    )
    text = text.replace("        data_class: coded\n        role: program\n", "        role: program\n")
    text = text.replace("  outcome: [good, bad]\n", "  outcome: &codes [good, bad]\n  spare: *codes\n")
    assert "<<: &program_code" in text and "spare: *codes" in text
    spec = load_spec(write(tmp_path, text))
    outcome = next(f for f in spec.sources["registry"].fields if f.name == "outcome")
    assert outcome.type == FieldType.CODE and outcome.data_class == DataClass.CODED
    assert spec.codes("spare") == spec.codes("outcome") == {"good", "bad"}

# --- the Ontario spec ------------------------------------------------------------------------------


def test_ontario_spec_loads_with_its_code_lists() -> None:
    spec = load_spec(ONTARIO)
    assert spec.purpose == "program_planning"
    assert list(spec.sources) == ["cpin", "onsis", "eqao"]
    assert spec.thresholds.invasion_level == "high" and spec.thresholds.risk_threshold == 0.05
    societies = spec.code_lists["society"]
    assert sorted(societies) == [f"CAS{n:02d}" for n in range(1, 51)]
    assert sum(1 for entry in societies.values() if entry.attributes["indigenous"]) == 13
    boards = spec.code_lists["board"]
    district = [entry for entry in boards.values() if entry.attributes["kind"] == "district_board"]
    assert len(district) == 72 and len(boards) > 72
    assert all(re.fullmatch(r"B\d{5}", code) for code in boards)
    assert boards["B66303"].name == "Conseil scolaire Viamonde"
    assert spec.codes("grade") == {"JK", "K", *(str(n) for n in range(1, 13))}
    assert spec.codes("school_year") == set(spec.window.school_years)


def _layout_tables() -> dict[str, list[list[str]]]:
    """The column tables of docs/extract-layouts.md, by source."""
    tables: dict[str, list[list[str]]] = {}
    current = None
    for line in LAYOUTS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (CPIN|OnSIS|EQAO): ", line)
        if heading:
            current = heading.group(1).lower()
            tables[current] = []
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("| `"):
            tables[current].append([cell.strip() for cell in line.strip("|").split("|")])
    return tables


def test_ontario_spec_maps_exactly_the_extract_layouts() -> None:
    spec = load_spec(ONTARIO)
    tables = _layout_tables()
    assert set(tables) == set(spec.sources)
    for name, rows in tables.items():
        source = spec.source(name)
        assert sorted(source.field_by_column) == sorted(row[0].strip("`") for row in rows), name
        for column, canonical, kind, class_role, values in rows:
            field = source.field_by_column[column.strip("`")]
            assert field.name == canonical.strip("`"), column
            assert field.type == kind.split()[0], column
            if field.type is FieldType.DATE:
                assert f"`{field.date_format}`" in kind, column
            data_class, role = (part.strip() for part in class_role.split("/"))
            assert (field.data_class, field.role) == (data_class, role), column
            codes = set(re.findall(r"`([^`]+)`", values))
            if field.type is FieldType.CODE and codes and "…" not in values and "+" not in values:
                assert spec.codes_for(field) == frozenset(codes), column
        assert set(source.forbidden_columns) == {"HEALTH_CARD_NO", "OHIP_NUMBER", "SIN"}
    assert spec.source("cpin").format.encoding == "cp1252"
    assert spec.source("onsis").format.encoding == "utf-8"


def test_identity_fields_are_personal_direct_identifiers() -> None:
    spec = load_spec(ONTARIO)
    for source in spec.sources.values():
        identity = source.identity_fields()
        assert {field.role for field in identity} == {Role.DIRECT_IDENTIFIER}
        assert {field.data_class for field in source.content_fields()} == {DataClass.CODED}
        assert source.record_id_field in identity and source.record_id_field.required
    cpin = spec.source("cpin")
    assert cpin.field_by_column["OEN"].name == "oen" and not cpin.field_by_column["OEN"].required
    assert cpin.forbidden_in(["EPISODE_ID", " sin ", "Health_Card_No"]) == (" sin ", "Health_Card_No")
    assert spec.codes_for(cpin.field_by_name["ht_risk"]) == frozenset({"Y", "N"})
    assert spec.codes_for(cpin.field_by_name["days_in_care"]) is None


def test_unknown_source_lookup_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="declares no source 'cyfsa'"):
        load_spec(ONTARIO).source("cyfsa")


# --- the command line ------------------------------------------------------------------------------


def test_spec_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["spec", "check", str(ONTARIO)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "3 sources" in out and out.count("\n") == 1
    broken = write(tmp_path, MINIMAL.replace("purpose: program_evaluation", "purpose: curiosity_driven"))
    assert run(["spec", "check", str(broken)]) == 2
    assert "purpose" in capsys.readouterr().err
    assert run(["spec", "check", str(tmp_path / "absent.yaml")]) == 2


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        "42",
        "",
        "code_lists: {x: [true, 1, 1]}",
        "a: &x [*x]",
        "code_lists: {x: [[1]], y: [1.5], z: {a: [1]}}",
        "sources: {a: {populations: [[1]], fields: [{code_list: [x], category: [y]}, 3, null]}}\n"
        "recipients: {r: {through: [[1], {a: 1}]}}\npopulations: [[1], {id: [2]}]\ncategories: {c: {notice_text: [1]}}",
    ],
)
def test_malformed_documents_are_spec_errors_not_crashes(tmp_path: Path, text: str) -> None:
    with pytest.raises(SpecError, match="problem"):
        load_spec(write(tmp_path, text))


def test_the_publication_base_release_holds_every_column_the_indicators_read() -> None:
    spec = load_spec(ONTARIO)
    section = spec.releases["publication_base"]
    released = {q.column for q in section.quasi_identifiers} | set(section.sensitive) | set(section.columns)
    indicators = spec.indicators
    assert indicators is not None
    read = {indicators.period, indicators.status.column} | {b.column for b in indicators.breakdowns.values()}
    for measure in indicators.measures:
        read |= {c.column for c in measure.where} | ({measure.column} if measure.column else set())
    assert read <= released, sorted(read - released)
    # Care status is the comparison itself: weighted so that the search gives way on the others first.
    care = next(q for q in section.quasi_identifiers if q.column == indicators.status.column)
    assert care.weight > max(q.weight for q in section.quasi_identifiers if q is not care)

"""The `linkage:` section: which sources are linked or de-duplicated, on which identity fields, how.

Linkage is declared, not coded, so another unit with other sources writes another spec. The
section names the identity fields linkage uses and their KIND (a person's given, family or middle
name, a date, a postcode with its country's pattern, a free-text address, an identifier with an
optional named check rule, a code used as evidence, a code within a period); which source field
carries each; a spine (or none); the links (source to spine or source to source) with their
assignment; de-duplication within a source; the comparisons (built from each kind's template,
levels overridable), blocking rules over the standardised columns the kinds produce, named
deterministic rules, and the accept/review thresholds. `linkhaven.link.settings` compiles it into
the frozen settings a run uses and saves.

Cross-section rules (every declared source covered by some link or de-duplication, every field
known) are in `linkage_problems`, which reports each problem at its own spec path so the loader
can name its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal, Self

import pydantic
from pydantic import model_validator

from linkhaven.spec.vocabulary import Loc, Name, Problem, SpecModel, Text, fail


class Kind(StrEnum):
    """What an identity field is; each kind standardises its values into documented columns."""

    GIVEN_NAME = "given_name"
    FAMILY_NAME = "family_name"
    MIDDLE_NAME = "middle_name"
    DATE = "date"
    POSTCODE = "postcode"
    ADDRESS = "address"
    IDENTIFIER = "identifier"
    CODE = "code"
    CODE_IN_PERIOD = "code_in_period"


NAME_PREFIX = {Kind.GIVEN_NAME: "given", Kind.FAMILY_NAME: "family", Kind.MIDDLE_NAME: "middle"}
"""Name kinds standardise into fixed column prefixes (given_std, family_joined...): one field each."""


def kind_columns(name: str, kind: Kind, prefixes: tuple[int, ...] = ()) -> tuple[str, ...]:
    """The standardised columns an identity field of `kind` called `name` gives comparison and
    blocking SQL (`l.<column>`, `r.<column>`). See docs/linkage.md for what each holds."""
    if kind is Kind.GIVEN_NAME:
        return ("given_std", "given_first", "given_joined", "given_tokens", "given_groups", "given_phon")
    if kind is Kind.FAMILY_NAME:
        return ("family_std", "family_joined", "family_core", "family_tokens", "family_phon")
    if kind is Kind.MIDDLE_NAME:
        return ("middle_std", "middle_joined", "middle_tokens", "middle_phon")
    if kind is Kind.DATE:
        return (name, f"{name}_str")
    if kind is Kind.POSTCODE:
        return (f"{name}_set", *(f"{name}_p{n}" for n in prefixes))
    if kind is Kind.CODE_IN_PERIOD:
        return (f"{name}_set",)
    return (name,)


class IdentityField(SpecModel):
    """One identity field linkage uses, by kind; options apply to some kinds only."""

    kind: Kind
    pattern: str | None = None
    """postcode: the country's pattern (a regular expression matched in full after upper-casing and
    removing spaces and hyphens); values that do not match compare as missing."""
    prefixes: tuple[Annotated[int, pydantic.Field(ge=1, le=10)], ...] = ()
    """postcode: lengths of its coarser levels, longest first (Canada: 3 = FSA, 1 = district)."""
    check: Name | None = None
    """identifier: a named rule of linkhaven.derivations.identifiers (e.g. digits_9_luhn); values
    failing its format are not used."""
    unique_within_source: bool = False
    """identifier: one record per identifier in each source (a record id); several records may
    otherwise share one (a person's enrolments over years)."""
    mapping: dict[str, str] | None = None
    """code: source codes mapped to a common scale; codes not listed compare as missing."""

    @model_validator(mode="after")
    def _options_fit_kind(self) -> Self:
        problems: list[Problem] = []
        allowed = {
            "pattern": {Kind.POSTCODE, Kind.IDENTIFIER},
            "prefixes": {Kind.POSTCODE},
            "check": {Kind.IDENTIFIER},
            "unique_within_source": {Kind.IDENTIFIER},
            "mapping": {Kind.CODE},
        }
        for option, kinds in allowed.items():
            if option in self.model_fields_set and self.kind not in kinds:
                problems.append(((option,), f"applies to kind {' or '.join(sorted(kinds))} only"))
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error:
                problems.append((("pattern",), "is not a valid regular expression"))
        if list(self.prefixes) != sorted(set(self.prefixes), reverse=True):
            problems.append((("prefixes",), "list distinct lengths, longest first"))
        if self.check is not None:
            from linkhaven.derivations.identifiers import rule_names

            if self.check not in rule_names():
                problems.append((("check",), f"no identifier rule of that name; known: {', '.join(rule_names())}"))
        fail(problems)
        return self


class FieldInPeriod(SpecModel):
    """A code_in_period field's source columns: the code and the period it holds in."""

    field: Name
    period: Name


class SourceFields(SpecModel):
    """Which of a source's fields carries each identity field (identity name -> source field)."""

    fields: Annotated[dict[Name, Name | FieldInPeriod], pydantic.Field(min_length=1)]
    person_id: Name | None = None
    """The source's own person identifier, if it has one (several records per person)."""


class Assignment(StrEnum):
    BEST = "best"
    """Each record takes its best candidate (many records may share one): records without person ids."""
    ONE_TO_ONE = "one_to_one"
    """Each record to at most one candidate and each candidate to at most one record (two files of persons)."""
    CLUSTER_ONE_TO_ONE = "cluster_one_to_one"
    """Records clustered first (person id, plus duplicates found with the link's model), then one-to-one."""


class Link(SpecModel):
    source: Name
    to: Name
    assignment: Assignment = Assignment.BEST
    find_duplicates: bool = False
    """cluster_one_to_one: also cluster the source's own duplicate persons found by the model."""
    twin_guard: bool = False
    """Never link automatically a pair with the same birth date and clearly different given names
    (twins, siblings born the same day); needs a given name and a date field."""


class Dedupe(SpecModel):
    """De-duplication within one source: by a shared identifier, or probabilistically."""

    source: Name
    by: Literal["identifier", "probabilistic"] = "probabilistic"
    identifier: Name | None = None

    @model_validator(mode="after")
    def _identifier_given(self) -> Self:
        if (self.by == "identifier") != (self.identifier is not None):
            fail([(("identifier",), "give an identifier exactly when by: identifier")])
        return self


class Level(SpecModel):
    """A comparison level written in Splink's SQL over `<column>_l` / `<column>_r`."""

    label: Text
    sql: Text
    term_frequency: Name | None = None
    """Adjust this level's weight by how common the value of this column is."""
    m_probability: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None
    u_probability: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None


class Comparison(SpecModel):
    """A comparison of one identity field, from its kind's template; `levels` replaces the
    template's levels between "missing" and "all other"."""

    field: Name
    levels: tuple[Level, ...] | None = None
    term_frequency: bool | None = None
    """Term-frequency adjustment of the exact level (default: on for names and addresses)."""


class Corroboration(StrEnum):
    NONE = "none"
    """The identifier alone decides."""
    TWO_OF_NAMES_AND_DATE = "two_of_names_and_date"
    """At least two of given name, family name and date agree, or the names are swapped and the date agrees."""


class DeterministicRule(SpecModel):
    name: Name
    identifier: Name
    corroboration: Corroboration = Corroboration.TWO_OF_NAMES_AND_DATE


class Linkage(SpecModel):
    accept_probability: float = pydantic.Field(gt=0, le=1)
    review_lower_probability: float = pydantic.Field(ge=0, lt=1)
    fields: dict[Name, IdentityField] = {}
    sources: dict[Name, SourceFields] = {}
    spine: Name | None = None
    """The source whose persons anchor person keys (its records count first when keys carry over)."""
    links: tuple[Link, ...] = ()
    dedupe: tuple[Dedupe, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    blocking: tuple[Text, ...] = ()
    """Prediction blocking rules over `l.<column>` and `r.<column>`; a rule applies to a link or
    de-duplication only where both sides carry every column it names."""
    training_blocking: tuple[Text, ...] = ()
    """Blocking rules for expectation maximisation (when m is not trained from deterministic links)."""
    deterministic: tuple[DeterministicRule, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.accept_probability <= self.review_lower_probability:
            fail([(("accept_probability",), "must be above review_lower_probability")])
        return self

    def columns(self) -> dict[str, str]:
        """Standardised column -> the identity field that produces it."""
        out: dict[str, str] = {}
        for name, spec in self.fields.items():
            for column in kind_columns(name, spec.kind, spec.prefixes):
                out[column] = name
        return out


_RULE_COLUMN = re.compile(r"\b([lr])\.\"?([a-z_][a-z0-9_]*)\"?")


def rule_columns(rule: str) -> set[str]:
    """The columns a blocking rule names as `l.column` / `r.column`."""
    return {m.group(2) for m in _RULE_COLUMN.finditer(rule)}


def linkage_problems(linkage: Linkage, source_fields: Mapping[str, set[str]]) -> list[Problem]:
    """Problems between the linkage section and the declared sources (`source -> its field names`),
    each at its path under `linkage`."""
    problems: list[Problem] = []
    where: Loc = ("linkage",)
    name_kinds: dict[Kind, str] = {}
    for name, spec in linkage.fields.items():
        if spec.kind in NAME_PREFIX:
            if spec.kind in name_kinds:
                problems.append(((*where, "fields", name), f"a second {spec.kind} field; declare one per kind"))
            name_kinds[spec.kind] = name
    for source, declared in linkage.sources.items():
        at: Loc = (*where, "sources", source)
        if source not in source_fields:
            problems.append((at, "not a source declared under sources"))
            continue
        have = source_fields[source]
        for identity, column in declared.fields.items():
            if identity not in linkage.fields:
                problems.append(((*at, "fields", identity), "not an identity field declared under linkage.fields"))
                continue
            kind = linkage.fields[identity].kind
            if isinstance(column, FieldInPeriod):
                if kind is not Kind.CODE_IN_PERIOD:
                    problems.append(((*at, "fields", identity), "give one source field for this kind"))
                for part in ("field", "period"):
                    if getattr(column, part) not in have:
                        problems.append(((*at, "fields", identity, part), "not a field of this source"))
            elif kind is Kind.CODE_IN_PERIOD:
                problems.append(((*at, "fields", identity), "give {field: CODE_FIELD, period: PERIOD_FIELD}"))
            elif column not in have:
                problems.append(((*at, "fields", identity), f"'{column}' is not a field of this source"))
        if declared.person_id is not None and declared.person_id not in have:
            problems.append(((*at, "person_id"), "not a field of this source"))
    covered: set[str] = set()
    if linkage.spine is not None:
        if linkage.spine not in linkage.sources:
            problems.append(((*where, "spine"), "not a source declared under linkage.sources"))
        covered.add(linkage.spine)
    link_sources: set[str] = set()
    for index, link in enumerate(linkage.links):
        at = (*where, "links", index)
        for part in ("source", "to"):
            name = getattr(link, part)
            if name not in linkage.sources:
                problems.append(((*at, part), "not a source declared under linkage.sources"))
            covered.add(name)
        if link.source == link.to:
            problems.append(((*at, "to"), "a source is not linked to itself; declare a dedupe instead"))
        if link.source in link_sources:
            problems.append(((*at, "source"), "this source is already linked by another link"))
        link_sources.add(link.source)
        linked_source = linkage.sources.get(link.source)
        no_person_id = linked_source is not None and linked_source.person_id is None
        if link.assignment is Assignment.CLUSTER_ONE_TO_ONE and no_person_id and not link.find_duplicates:
            problems.append(((*at, "assignment"), "cluster_one_to_one needs the source's person_id or find_duplicates"))
        if link.twin_guard and not (Kind.GIVEN_NAME in name_kinds and _has_kind(linkage, Kind.DATE)):
            problems.append(((*at, "twin_guard"), "needs a given_name field and a date field"))
    targets = {link.to for link in linkage.links}
    for index, link in enumerate(linkage.links):
        if link.to in link_sources:
            problems.append(((*where, "links", index, "to"), "this source is itself linked to another; link both to "
                                                             "the same target"))  # fmt: skip
    for index, dedupe in enumerate(linkage.dedupe):
        at = (*where, "dedupe", index)
        if dedupe.source not in linkage.sources:
            problems.append(((*at, "source"), "not a source declared under linkage.sources"))
        covered.add(dedupe.source)
        if dedupe.identifier is not None:
            field = linkage.fields.get(dedupe.identifier)
            if field is None or field.kind is not Kind.IDENTIFIER:
                problems.append(((*at, "identifier"), "not an identifier field declared under linkage.fields"))
        elif dedupe.source in link_sources or dedupe.source in targets:
            problems.append(((*at, "source"), "a linked source is de-duplicated by its link (find_duplicates) or by "
                                              "an identifier, not probabilistically"))  # fmt: skip
    for source in source_fields:
        if source not in covered:
            problems.append((("sources", source), "no linkage rule covers this source; declare it under "
                                                  "linkage.links or linkage.dedupe (or as linkage.spine)"))  # fmt: skip
    columns = linkage.columns()
    for index, comparison in enumerate(linkage.comparisons):
        if comparison.field not in linkage.fields:
            problems.append(((*where, "comparisons", index, "field"), "not an identity field declared under "
                                                                      "linkage.fields"))  # fmt: skip
        for position, level in enumerate(comparison.levels or ()):
            if level.term_frequency is not None and level.term_frequency not in columns:
                problems.append(((*where, "comparisons", index, "levels", position, "term_frequency"),
                                 "not a standardised column of a declared identity field"))  # fmt: skip
    for key in ("blocking", "training_blocking"):
        for index, rule in enumerate(getattr(linkage, key)):
            unknown = sorted(rule_columns(rule) - set(columns))
            if not rule_columns(rule):
                problems.append(((*where, key, index), "names no column as l.<column> / r.<column>"))
            elif unknown:
                problems.append(((*where, key, index), f"names column(s) no declared identity field produces: "
                                                       f"{', '.join(unknown)}"))  # fmt: skip
    for index, rule in enumerate(linkage.deterministic):
        identifier = linkage.fields.get(rule.identifier)
        if identifier is None or identifier.kind is not Kind.IDENTIFIER:
            problems.append(((*where, "deterministic", index, "identifier"),
                             "not an identifier field declared under linkage.fields"))  # fmt: skip
        if rule.corroboration is Corroboration.TWO_OF_NAMES_AND_DATE and not (
            Kind.GIVEN_NAME in name_kinds and Kind.FAMILY_NAME in name_kinds and _has_kind(linkage, Kind.DATE)
        ):
            problems.append(((*where, "deterministic", index, "corroboration"),
                             "needs given_name, family_name and date fields"))  # fmt: skip
    return problems


def _has_kind(linkage: Linkage, kind: Kind) -> bool:
    return any(spec.kind is kind for spec in linkage.fields.values())

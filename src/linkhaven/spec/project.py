"""The project spec: the one document that declares a data integration (DI) project.

A unit describes its project here instead of in code, so that another unit with other sources
writes another spec, not other code. Intake validates rows against the source fields, linkage
reads the `linkage:` section, de-identification and publication read the thresholds, panels and
releases, governance reads recipients, disclosure bases and retention, and the public notice is
rendered from the same document, so what the notice promises and what the software does cannot
drift apart. The sections are modelled in their own modules (vocabulary, sources, governance,
linkage, panels, releases, indicators); this one composes them and checks what spans them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self

import pydantic
from pydantic import StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from linkhaven.errors import SpecError
from linkhaven.spec.governance import (
    Category,
    Contact,
    Identifiers,
    LegalAuthority,
    Notice,
    Population,
    Project,
    Recipient,
    Retention,
    Thresholds,
    Window,
)
from linkhaven.spec.indicators import IndicatorSet
from linkhaven.spec.linkage import Linkage, linkage_problems
from linkhaven.spec.panels import Panel, panel_problems
from linkhaven.spec.releases import ReleaseSection
from linkhaven.spec.sources import CodeEntry, Field, Source, normalise_code_list
from linkhaven.spec.vocabulary import (
    Assessment,
    DisclosureBasis,
    Loc,
    Name,
    Problem,
    Purpose,
    SpecModel,
    Text,
    fail,
    join_and,
)


class ProjectSpec(SpecModel):
    """A whole DI project; compose new sections (releases, indicators) as further fields."""

    spec_version: Literal[1] = 1
    project: Project
    purpose: Purpose
    purpose_statement: Text
    legal_authority: LegalAuthority
    populations: Annotated[tuple[Population, ...], pydantic.Field(min_length=1)]
    window: Window = Window()
    """Optional: without it, collection has no time window (see `Window`)."""
    sources: Annotated[dict[Name, Source], pydantic.Field(min_length=1)]
    code_lists: dict[Name, dict[Annotated[str, StringConstraints(min_length=1)], CodeEntry]] = {}
    categories: Annotated[dict[Name, Category], pydantic.Field(min_length=1)]
    recipients: dict[Name, Recipient]
    disclosure_bases: dict[DisclosureBasis, Text]
    thresholds: Thresholds
    linkage: Linkage
    identifiers: Identifiers = Identifiers()
    retention: Retention
    assessments_required: tuple[Assessment, ...] = ()
    contact: Contact
    notice: Notice
    indicators: IndicatorSet | None = None
    panels: dict[Name, Panel] = {}
    """The analysis tables releases are made from (linkhaven.spec.panels)."""
    releases: dict[Name, ReleaseSection] = {}
    """De-identified releases of the person-year panel (linkhaven.deid); see docs/deidentification.md."""
    """What publications compute and how they are protected (linkhaven.publish); none: nothing to publish."""

    @field_validator("code_lists", mode="before")
    @classmethod
    def normalise_code_lists(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        normalised: dict[object, object] = {}
        problems: list[Problem] = []
        for name, codes in raw.items():
            try:
                normalised[name] = normalise_code_list(codes)
            except PydanticCustomError as err:
                problems.append(((str(name),), err.message()))
        fail(problems)
        return normalised

    @field_validator("code_lists", mode="after")
    @classmethod
    def _uniform_code_lists(cls, code_lists: dict[str, dict[str, CodeEntry]]) -> dict[str, dict[str, CodeEntry]]:
        problems: list[Problem] = []
        for name, codes in code_lists.items():
            if not codes:
                problems.append(((name,), "a code list needs at least one code"))
                continue
            shape = {code: _entry_keys(entry) for code, entry in codes.items()}
            every = set[str]().union(*shape.values())
            for code, keys in shape.items():
                missing = sorted(every - keys)
                if missing:
                    problems.append(
                        ((name, code), f"lacks {', '.join(missing)}; every code of a list carries the same attributes")
                    )
        fail(problems)
        return code_lists

    @field_validator("populations", mode="after")
    @classmethod
    def _unique_populations(cls, populations: tuple[Population, ...]) -> tuple[Population, ...]:
        seen: set[str] = set()
        problems: list[Problem] = []
        for index, population in enumerate(populations):
            if population.id in seen:
                problems.append(((index, "id"), f"population id '{population.id}' is used twice"))
            seen.add(population.id)
        fail(problems)
        return populations

    @field_validator("assessments_required", mode="after")
    @classmethod
    def _unique_assessments(cls, assessments: tuple[Assessment, ...]) -> tuple[Assessment, ...]:
        if len(set(assessments)) != len(assessments):
            fail([((), "lists an assessment twice")])
        return assessments

    @model_validator(mode="after")
    def _references(self) -> Self:
        fields = {name: {field.name for field in source.fields} for name, source in self.sources.items()}
        fail(reference_problems(self.model_dump()) + linkage_problems(self.linkage, fields))
        return self

    @model_validator(mode="after")
    def _panels(self) -> Self:
        fail(panel_problems(self))
        return self

    @model_validator(mode="after")
    def _window_used(self) -> Self:
        """School-year fields and `{window}` in a description need the window's school years."""
        if self.window.school_years:
            return self
        problems: list[Problem] = []
        for name, source in self.sources.items():
            if source.period is not None and source.period.school_year is not None:
                problems.append((("sources", name, "period", "school_year"), "needs `window` with its school years"))
        for index, population in enumerate(self.populations):
            if "{window}" in population.description:
                problems.append(
                    (("populations", index, "description"), "uses {window} but `window` has no school years")
                )
        fail(problems)
        return self

    def source(self, name: str) -> Source:
        try:
            return self.sources[name]
        except KeyError:
            raise SpecError(
                f"The project spec declares no source '{name}'; it declares: {', '.join(self.sources)}."
            ) from None

    @cached_property
    def _code_sets(self) -> Mapping[str, frozenset[str]]:
        return MappingProxyType({name: frozenset(codes) for name, codes in self.code_lists.items()})

    def codes(self, code_list: str) -> frozenset[str]:
        """The valid codes of a list, for membership tests on every row."""
        return self._code_sets[code_list]

    def codes_for(self, field: Field) -> frozenset[str] | None:
        """The valid codes of a code field, or None for other types."""
        return None if field.code_list is None else self._code_sets[field.code_list]

    def category_items(self, category: str) -> tuple[str, ...]:
        """What the notice lists for a category: derived items, then field labels in spec order, once each."""
        items = list(self.categories[category].derived_items)
        for source in self.sources.values():
            for field in source.fields:
                if field.category == category and field.notice_label and field.notice_label not in items:
                    items.append(field.notice_label)
        return tuple(items)

    def category_text(self, category: str) -> str:
        return self.categories[category].notice_text.format(items=join_and(self.category_items(category)))

    def population_text(self, population: Population) -> str:
        first, last = self.window.first_school_year, self.window.last_school_year
        if first is None or last is None:
            return population.description  # no {window} in it: checked at load
        return population.description.format(window=f"{first.replace('-', '–')} to {last.replace('-', '–')}")


def _entry_keys(entry: CodeEntry) -> set[str]:
    keys = set(entry.model_extra or {})
    if entry.name is not None:
        keys.add("name")
    return keys


def _mapping(value: object) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _sequence(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def reference_problems(data: object) -> list[Problem]:
    """Problems with references between sections, found in plain data.

    Works on the raw YAML as well as on a validated spec, so the loader can report broken
    references together with structural errors instead of one round after the other.
    """
    spec = _mapping(data)
    code_lists = {str(name) for name in _mapping(spec.get("code_lists"))}
    categories = _mapping(spec.get("categories"))
    recipients = _mapping(spec.get("recipients"))
    populations = [_text(_mapping(population).get("id")) for population in _sequence(spec.get("populations"))]
    problems: list[Problem] = []
    used: set[str] = set()
    labelled: set[str] = set()
    covered: set[str] = set()
    for source_name, source in _mapping(spec.get("sources")).items():
        source = _mapping(source)
        for index, population in enumerate(_sequence(source.get("populations"))):
            if not isinstance(population, str):
                continue
            covered.add(population)
            if population not in populations:
                problems.append((("sources", source_name, "populations", index), "not declared under populations"))
        for index, field in enumerate(_sequence(source.get("fields"))):
            field = _mapping(field)
            where: Loc = ("sources", source_name, "fields", index)
            code_list = field.get("code_list")
            if isinstance(code_list, str) and code_list not in code_lists:
                problems.append(((*where, "code_list"), f"code list '{code_list}' is not declared under code_lists"))
            category = field.get("category")
            if isinstance(category, str):
                if category not in categories:
                    problems.append(((*where, "category"), f"category '{category}' is not declared under categories"))
                used.add(category)
                if field.get("notice_label"):
                    labelled.add(category)
    for category_id, category in categories.items():
        category = _mapping(category)
        if category_id not in used:
            problems.append(
                (
                    ("categories", category_id),
                    "no source field belongs to this category; the notice would announce information not collected",
                )
            )
        elif (
            "{items}" in str(category.get("notice_text", ""))
            and category_id not in labelled
            and not category.get("derived_items")
        ):
            problems.append(
                (("categories", category_id, "notice_text"), "uses {items} but no field of it has a notice_label")
            )
    for index, population in enumerate(populations):
        if population is not None and population not in covered:
            problems.append((("populations", index), "no source covers this population"))
    for recipient_id, recipient in recipients.items():
        for index, other in enumerate(_sequence(_mapping(recipient).get("through"))):
            if isinstance(other, str) and (other not in recipients or other == recipient_id):
                problems.append(
                    (("recipients", recipient_id, "through", index), "expected the id of another recipient")
                )
    return problems

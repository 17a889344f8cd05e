"""The spec's `panels:` section: the analysis tables releases are made from, declared, not coded.

A panel has one row per unit of analysis (a person: the linkage map's person key) and, when it
declares a period, per period (e.g. per school year). Its rows come from the linked records of
one base source (one record per unit and period, chosen by `prefer`); its columns come from any
source's fields, by the base record's own value or by a pick over the unit's records (latest,
first, min, max, any, exists), from generalised identity values (an age, a postcode prefix: the
identity value itself never reaches the panel), from named derivations (`linkhaven.derivations`)
that may contribute several columns, and from linkage quality. A release names the panel it
releases. `linkhaven.deid` builds the panel; this module only describes and cross-checks it.

The project module imports this one, so the spec arrives typed as `Any` in the cross-checks and
is read only through attributes every ProjectSpec has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

import pydantic
from pydantic import StringConstraints, model_validator

from linkhaven import derivations
from linkhaven.derivations import ColumnInfo, Kind
from linkhaven.derivations.registry import DerivationError
from linkhaven.spec.vocabulary import Loc, Name, Problem, SpecModel, Text, fail

if TYPE_CHECKING:
    from linkhaven.spec.releases import ReleaseSection


PERSON_KEY = "person_key"
"""The unit column every panel starts with (internal: releases replace it with a pseudonym)."""
Pick = Literal["latest", "first", "min", "max", "any", "exists"]


class PanelPeriod(SpecModel):
    """The period a panel has one row per unit for: a named period derivation and its parameters."""

    derivation: Name
    """e.g. `school_year` (Ontario, over the spec's window) or `calendar_year` (with first, last)."""
    column: Name | None = None
    """The panel column holding the period's label; the derivation's name when omitted."""
    params: dict[str, Any] = {}

    @property
    def column_name(self) -> str:
        return self.column or self.derivation


class Preference(SpecModel):
    """How to choose one base record when a unit has several in one period (a merged duplicate)."""

    field: Name
    order: Name = "natural"
    """A named ordering derivation, e.g. `grade_order`; `natural`: the values' own order."""
    descending: bool = False


class PanelColumn(SpecModel):
    """One panel column (or, for a `table` derivation, the several columns it contributes).

    - `field` alone: the base record's value of a base-source field.
    - `field` (or none, for `exists`) with `pick`: one value from the unit's records of `source`
      in the row's period (`per: period`) or over all of them (`per: unit`).
    - `derive` of kind `value`: e.g. `age_in_period` or `postcode_prefix` on a base identity field.
    - `derive` of kind `table`: several columns from `source` (its names come from the derivation).
    - `derive` of kind `quality`: `link_method` / `link_probability` of the row's records, or of
      the unit's records of `source`.
    """

    name: Name | None = None
    description: Text | None = None
    source: Name | None = None
    field: Name | None = None
    pick: Pick | None = None
    order_by: Name | None = None
    """For `latest` / `first`: the field that orders the records (a date, usually)."""
    value: Annotated[str, StringConstraints(min_length=1)] | None = None
    """For `any`: the value looked for."""
    per: Literal["period", "unit"] | None = None
    """For picks: `period` (default when the panel has one) or `unit` (all the unit's records)."""
    derive: Name | None = None
    params: dict[str, Any] = {}

    @model_validator(mode="after")
    def _shape(self) -> Self:
        problems: list[Problem] = []
        if self.derive is None and self.field is None and self.pick != "exists":
            problems.append(((), "give a field, a pick 'exists', or a derivation (derive)"))
        if self.derive is not None and self.pick is not None:
            problems.append((("pick",), "a derived column takes no pick"))
        if self.pick is None and (self.order_by or self.value or self.per):
            problems.append((("pick",), "order_by, value and per go with a pick"))
        if self.derive is None and self.name is None:
            problems.append((("name",), "a column needs a name"))
        fail(problems)
        return self


class Panel(SpecModel):
    """One panel: its unit, period, base source and columns (see the module docstring)."""

    title: Text
    unit: Literal["person"] = "person"
    """The unit of analysis: `person`, the linkage map's person key."""
    period: PanelPeriod | None = None
    base: Name
    """The source whose linked records give the rows (one per unit and period)."""
    prefer: tuple[Preference, ...] = ()
    columns: Annotated[tuple[PanelColumn, ...], pydantic.Field(min_length=1)]


def release_panel(spec: Any, section: ReleaseSection, section_name: str = "") -> tuple[str, Panel]:
    """The panel a release section releases: the one it names, or the spec's only panel."""
    panels: dict[str, Panel] = spec.panels
    if section.panel is not None:
        return section.panel, panels[section.panel]
    if len(panels) != 1:
        raise KeyError(f"release section '{section_name}' must name its panel (the spec has {len(panels)})")
    name = next(iter(panels))
    return name, panels[name]


def period_column(spec: Any, section: ReleaseSection) -> str | None:
    """The period column of the release's panel (one row per person per period), or None without periods."""
    if not spec.panels:
        return None
    _, panel = release_panel(spec, section)
    return panel.period.column_name if panel.period is not None else None


def column_kind(column: PanelColumn) -> str:
    """`row`, `pick`, or the derivation kind (`value`, `table`, `quality`); KeyError for an unknown name."""
    if column.derive is not None:
        return str(derivations.get(column.derive).kind)
    return "pick" if column.pick is not None else "row"


def panel_columns(spec: Any, panel: Panel) -> tuple[ColumnInfo, ...]:
    """Every panel column after the person key, in order, as the data dictionary describes it."""
    out: list[ColumnInfo] = []
    if panel.period is not None:
        doc = derivations.get(panel.period.derivation, Kind.PERIOD).summary
        out.append(ColumnInfo(panel.period.column_name, doc, f"{panel.base} period, derived"))
    for column in panel.columns:
        source = column.source or panel.base
        derivation = derivations.get(column.derive) if column.derive else None
        if derivation is not None and derivation.kind is Kind.TABLE:
            assert derivation.columns is not None
            out.extend(derivation.columns(column.params, spec))
            continue
        assert column.name is not None
        if derivation is None:
            origin = f"{source}.{column.field}" if column.field else source
            origin += (
                f" ({column.pick} per {column.per or ('period' if panel.period else 'unit')})" if column.pick else ""
            )
            described = column.description or _field_description(spec, source, column.field) or column.name
        else:
            origin = f"{source}.{column.field}, {derivation.name}" if column.field else f"{derivation.name}"
            if derivation.kind is Kind.QUALITY:
                origin = "linkage map" + (f" ({column.source} records)" if column.source else "")
            described = column.description or derivation.summary
        out.append(ColumnInfo(column.name, described, origin))
    return tuple(out)


def _field_description(spec: Any, source: str, field: str | None) -> str | None:
    for f in spec.sources[source].fields if source in spec.sources else ():
        if f.name == field:
            text = f.description or f.notice_label
            return None if text is None else str(text)
    return None


def panel_problems(spec: Any) -> list[Problem]:
    """Cross-checks of every panel against the sources, the derivations and the release sections."""
    problems: list[Problem] = []
    for name, panel in spec.panels.items():
        problems += [(("panels", name, *loc), message) for loc, message in _one_panel(spec, panel)]
    for section_name, section in spec.releases.items():
        where: Loc = ("releases", section_name)
        if section.panel is None and len(spec.panels) != 1:
            problems.append(((*where,), f"name the panel this release is made from (the spec has {len(spec.panels)})"))
            continue
        if section.panel is not None and section.panel not in spec.panels:
            problems.append(((*where, "panel"), f"'{section.panel}' is not declared under panels"))
            continue
        _, panel = release_panel(spec, section, section_name)
        try:
            known = {c.name for c in panel_columns(spec, panel)}
        except (KeyError, DerivationError):
            continue  # reported against the panel
        for key, names in (("quasi_identifiers", [q.column for q in section.quasi_identifiers]),
                           ("sensitive", section.sensitive), ("columns", section.columns),
                           ("protect", section.protect)):  # fmt: skip
            for index, column in enumerate(names):
                if column not in known:
                    problems.append(((*where, key, index), f"'{column}' is not a column of the panel"))
    return problems


def _fields(spec: Any, source: str) -> dict[str, Any]:
    return {f.name: f for f in spec.sources[source].fields}


def _one_panel(spec: Any, panel: Panel) -> list[Problem]:
    problems: list[Problem] = []
    if panel.base not in spec.sources:
        return [(("base",), f"source '{panel.base}' is not declared under sources")]
    base_fields = _fields(spec, panel.base)
    if panel.period is not None:
        try:
            derivation = derivations.get(panel.period.derivation, Kind.PERIOD)
            derivation.function(panel.period.params, spec)
        except (KeyError, DerivationError) as err:
            problems.append((("period", "derivation"), str(err).strip("'\"")))
        base_period = spec.sources[panel.base].period
        if base_period is None or base_period.school_year is None:
            problems.append((("base",), "a panel with a period needs a base source with a period field"))
    for index, preference in enumerate(panel.prefer):
        if preference.field not in base_fields:
            problems.append((("prefer", index, "field"), f"'{preference.field}' is not a field of {panel.base}"))
        if preference.order not in derivations.names(Kind.ORDER):
            problems.append((("prefer", index, "order"), f"no ordering '{preference.order}'; known: "
                             f"{', '.join(derivations.names(Kind.ORDER))}"))  # fmt: skip
    for index, column in enumerate(panel.columns):
        problems += [(("columns", index, *loc), message) for loc, message in _one_column(spec, panel, column)]
    if not problems:
        seen: set[str] = {PERSON_KEY}
        try:
            for info in panel_columns(spec, panel):
                if info.name in seen:
                    problems.append((("columns",), f"column '{info.name}' is produced twice"))
                seen.add(info.name)
        except DerivationError as err:
            problems.append((("columns",), str(err)))
    return problems


def _one_column(spec: Any, panel: Panel, column: PanelColumn) -> list[Problem]:
    source = column.source or panel.base
    if source not in spec.sources:
        return [(("source",), f"source '{source}' is not declared under sources")]
    fields = _fields(spec, source)
    problems: list[Problem] = []
    for key in ("field", "order_by"):
        name = getattr(column, key)
        if name is not None and name not in fields:
            problems.append(((key,), f"'{name}' is not a field of source '{source}'"))
    if problems:
        return problems
    try:
        kind = column_kind(column)
    except KeyError as err:
        return [(("derive",), str(err).strip("'\""))]
    identity = column.field is not None and fields[column.field].is_identity
    if kind in ("row", "pick") and identity:
        problems.append((("field",), "an identity field reaches a panel only through a generalising derivation "
                         "(derive: age_in_period, postcode_prefix...)"))  # fmt: skip
    if kind == "row" and source != panel.base:
        problems.append((("pick",), f"a field of another source than the base ('{panel.base}') needs a pick"))
    if kind in ("period", "order"):
        problems.append((("derive",), f"'{column.derive}' is a {kind} derivation, not a column"))
    if kind == "value" and column.field is not None and source != panel.base:
        problems.append((("source",), "value derivations read the base record's fields"))
    if kind in ("value", "quality") and column.name is None:
        problems.append((("name",), "this derivation yields one column: give its name"))
    if kind == "table":
        if column.name is not None:
            problems.append((("name",), f"'{column.derive}' names its own columns; remove name"))
        if column.source is None:
            problems.append((("source",), f"'{column.derive}' reads a source: name it"))
        derivation = derivations.get(str(column.derive))
        try:
            for field in derivation.reads(column.params):
                if field not in fields:
                    problems.append((("params",), f"'{field}' is not a field of source '{source}'"))
            assert derivation.columns is not None
            derivation.columns(column.params, spec)
        except DerivationError as err:
            problems.append((("params",), str(err)))
    if column.pick is not None and column.per == "period" and panel.period is None:
        problems.append((("per",), "the panel has no period"))
    return problems

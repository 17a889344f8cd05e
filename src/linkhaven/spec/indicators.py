"""The `indicators:` section of a project spec: what a publication computes from a release.

Publication is policy, not code: which groups are compared (the care-status hierarchy), by
which breakdowns, with which measures, and how hard the tables are protected. A unit with other
sources declares other indicators here. The models only describe; `linkhaven.publish` computes.

Every model is frozen and refuses unknown keys, like the rest of the spec: a misspelt key in a
protection setting must fail at load time, not fall back silently to something weaker.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import pydantic
from pydantic import ConfigDict, StringConstraints, model_validator

from linkhaven.spec.vocabulary import SpecModel

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Code = Annotated[str, StringConstraints(min_length=1)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

ALL = "all"
"""How a table writes the margin of a breakdown (its total over every code); no breakdown code may be 'all'."""
WHOLE_PERIOD = "period"
"""The period column publication adds when the indicators declare none: every row in one period, 'all'."""
WHOLE_POPULATION = "population"
"""The status column publication adds when the indicators declare no status: every row in 'all'."""


def _problem(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


class StatusDimension(SpecModel):
    """The dimension every indicator is compared across (care status), with its totals.

    `hierarchy` maps each total to the codes that add up to it, e.g. `all: [not_involved, involved]`
    and `involved: [in_care, kinship_service, ccsy, vysa]`; the leaves are the panel's codes. A
    hierarchy is what makes the tables nested: each total is published beside its parts, and
    complementary suppression and the attacker audit take every level into account.
    """

    column: Ident
    label: Label
    hierarchy: Annotated[dict[Code, tuple[Code, ...]], pydantic.Field(min_length=1)]
    labels: dict[Code, Label] = {}
    plain_labels: dict[Code, Label] = {}
    """Words for young readers ('children in care'), used by the plain-language report."""

    @model_validator(mode="after")
    def _tree(self) -> Self:
        children = [code for parts in self.hierarchy.values() for code in parts]
        if len(set(children)) != len(children):
            raise _problem("hierarchy", "a code appears under two totals; each code has one parent")
        roots = [code for code in self.hierarchy if code not in children]
        if len(roots) != 1:
            raise _problem("hierarchy", f"expected exactly one top total, found {len(roots)}")
        for total, parts in self.hierarchy.items():
            if len(parts) < 2:
                raise _problem(f"hierarchy.{total}", "a total needs at least two parts")
            if total in parts:
                raise _problem(f"hierarchy.{total}", "a total cannot be its own part")
        return self

    @property
    def root(self) -> str:
        if not self.hierarchy:
            return ALL  # the whole population, with no groups (see `IndicatorSet.status`)
        children = {code for parts in self.hierarchy.values() for code in parts}
        return next(code for code in self.hierarchy if code not in children)

    @property
    def leaves(self) -> tuple[str, ...]:
        """The panel's own codes, in hierarchy order."""
        out: list[str] = []

        def walk(code: str) -> None:
            if code in self.hierarchy:
                for part in self.hierarchy[code]:
                    walk(part)
            else:
                out.append(code)

        walk(self.root)
        return tuple(out)

    def codes(self) -> tuple[str, ...]:
        """Every code, totals first then their parts, depth first (the order tables are printed in)."""
        out: list[str] = []

        def walk(code: str) -> None:
            out.append(code)
            for part in self.hierarchy.get(code, ()):
                walk(part)

        walk(self.root)
        return tuple(out)

    def descendants(self, code: str) -> tuple[str, ...]:
        """The codes under `code` (itself included), so a breakdown can be limited to a subtree."""
        out: list[str] = []

        def walk(node: str) -> None:
            out.append(node)
            for part in self.hierarchy.get(node, ()):
                walk(part)

        walk(code)
        return tuple(out)

    def label_of(self, code: str) -> str:
        return self.labels.get(code, code.replace("_", " "))

    def plain_label_of(self, code: str) -> str:
        return self.plain_labels.get(code, self.label_of(code))


class Breakdown(SpecModel):
    """A dimension the indicators are broken down by (gender, grade, board, ...)."""

    column: Ident
    label: Label
    code_list: Ident | None = None
    """Spec code list giving the codes' order and names; codes not in it are refused at publication."""
    within: Code | None = None
    """Limit the breakdown to one subtree of the status hierarchy (e.g. `involved` for society,
    which only children served by a society have)."""


class Condition(SpecModel):
    """Keep rows whose `column` is one of `values` (e.g. grade 10 for the credit benchmark)."""

    column: Ident
    values: Annotated[tuple[Code, ...], pydantic.Field(min_length=1)]


class Measure(SpecModel):
    """One indicator.

    - `count`: distinct persons in each cell.
    - `mean`: the average of `column` over the cell's persons (attendance); published only where the
      cell's count is published and at least the minimum cell size of persons have a value.
    - `share`: the persons meeting `success` among those counted (`counted` values of `column`, or any
      non-empty value); published as two counts that add up to the denominator (meeting, not
      meeting), so that the numerator, the denominator and the complement are all protected.
    """

    id: Ident
    kind: Literal["count", "mean", "share"]
    title: Label
    plain_title: Label
    """The question the plain-language report asks, e.g. 'How many passed the literacy test?'"""
    column: Ident | None = None
    where: tuple[Condition, ...] = ()
    counted: tuple[Code, ...] | None = None
    success_values: tuple[Code, ...] | None = None
    success_at_least: float | None = None
    breakdowns: tuple[Ident, ...] | None = None
    """Breakdowns this measure is published by; all declared breakdowns when omitted."""
    years: tuple[Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")], ...] | None = None
    """Periods the measure exists for (an assessment not held one year, say); all when omitted."""
    value_range: tuple[float, float] = (0.0, 1.0)
    """For `mean`: the column's possible range; a mean at either end says something of everyone."""

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.kind != "count" and self.column is None:
            raise _problem(self.id, f"a {self.kind} measure needs a column")
        if self.kind == "share" and (self.success_values is None) == (self.success_at_least is None):
            raise _problem(self.id, "a share needs exactly one of success_values or success_at_least")
        if self.kind != "share" and (
            self.success_values is not None or self.success_at_least is not None or self.counted is not None
        ):
            raise _problem(self.id, "only share measures take counted, success_values or success_at_least")
        if self.value_range[0] >= self.value_range[1]:
            raise _problem(self.id, "value_range must be (low, high) with low < high")
        return self


class Wording(SpecModel):
    """The reports' own words, in the unit's language: what a count counts and what the reports are
    about. The defaults are neutral; a unit writes its own (the Ontario spec speaks of students)."""

    counted: Ident = "persons"
    """What a count counts, plural; also the name of the count statistic in the published tables."""
    counted_one: Label = "person"
    title: Label = "Aggregate findings"
    period_name: Label = "period"
    """How the reports name a period, e.g. 'school year'."""
    young_title: Label = "What do the numbers say?"
    young_intro: tuple[Label, ...] = ("This page gives numbers about groups of people.",)
    """The young readers' report's opening sentences, one idea each."""
    young_more: tuple[Label, ...] = ("The full tables are in the main report.",)
    """Where a young reader can turn for more, one sentence each."""


class Protection(SpecModel):
    """How hard the tables are protected; each value defaults to the spec's thresholds."""

    min_cell_size: int | None = pydantic.Field(default=None, ge=3)
    """Counts below this are suppressed; defaults to thresholds.min_cell_size (may only be stricter)."""
    protection_level: int | None = pydantic.Field(default=None, ge=1)
    """Every suppressed cell's attacker interval must be at least this wide; defaults to the minimum cell size."""
    rounding: Literal["none", "nearest"] = "none"
    """`nearest` rounds every published count to thresholds.rounding_base on top of suppression."""
    full_cells: Literal["suppress", "allow"] = "suppress"
    """A cell equal to its total says the whole group shares one attribute (every VYSA youth of a board
    in one grade); `suppress` treats it as a primary cell."""


class IndicatorSet(SpecModel):
    """The `indicators:` section.

    `period` and `status` are optional: without a period every table has one period, 'all' (in the
    added column `period`); without a status hierarchy every table compares one group, the whole
    population ('all', in the added column `population`). A project with neither (persons counted
    by state and by age band, say) still publishes protected tables.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    person: Ident
    """The release column that identifies a person; counts are of distinct persons."""
    declared_period: Ident | None = pydantic.Field(default=None, alias="period")
    """The release column holding the period (e.g. the school year); every table is published per period."""
    declared_status: StatusDimension | None = pydantic.Field(default=None, alias="status")
    breakdowns: Annotated[dict[Ident, Breakdown], pydantic.Field(min_length=1)]
    measures: Annotated[tuple[Measure, ...], pydantic.Field(min_length=1)]
    protection: Protection = Protection()
    wording: Wording = Wording()

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems: list[str] = []
        codes = set(self.status.codes())
        for name, breakdown in self.breakdowns.items():
            if breakdown.within is not None and breakdown.within not in codes:
                problems.append(f"breakdowns.{name}.within: '{breakdown.within}' is not a status code")
        seen: set[str] = set()
        for index, measure in enumerate(self.measures):
            if measure.id in seen:
                problems.append(f"measures.{index}.id: '{measure.id}' is used twice")
            seen.add(measure.id)
            for breakdown_name in measure.breakdowns or ():
                if breakdown_name not in self.breakdowns:
                    problems.append(f"measures.{index}.breakdowns: '{breakdown_name}' is not a declared breakdown")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def period(self) -> str:
        """The period column: the declared one, or `WHOLE_PERIOD`, which publication adds."""
        return self.declared_period or WHOLE_PERIOD

    @property
    def status(self) -> StatusDimension:
        """The status dimension: the declared one, or the whole population in `WHOLE_POPULATION`."""
        if self.declared_status is not None:
            return self.declared_status
        return StatusDimension.model_construct(
            column=WHOLE_POPULATION, label="Population", hierarchy={}, labels={ALL: "All persons"}, plain_labels={}
        )

    def measure(self, measure_id: str) -> Measure:
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise KeyError(measure_id)

    def breakdowns_of(self, measure: Measure) -> tuple[str, ...]:
        return measure.breakdowns if measure.breakdowns is not None else tuple(self.breakdowns)

"""The spec's `releases:` sections: what one de-identified release holds and how it is protected.

A release section is the IPC 2016 method written down before any data is touched (Steps 1-3 and
the inputs of Step 5): the release model, the recipient, which panel columns are quasi-identifiers
and how each may be generalised, which are sensitive, what else is released and how numbers are
coarsened. `linkhaven.deid` reads it; the de-identification report quotes it back, so what the
privacy office approved and what the software did cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

import pydantic
from pydantic import StringConstraints, model_validator

from linkhaven.spec.vocabulary import Name, Probability, SpecModel, Text, fail

Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]

SUPPRESSED = "*"
"""The label of a quasi-identifier's top level: the value is withheld for every row."""


class ReleaseModel(StrEnum):
    """IPC 2016 Step 1. Public and semi-public releases are measured by maximum risk, non-public by strict average."""

    PUBLIC = "public"
    SEMI_PUBLIC = "semi_public"
    NON_PUBLIC = "non_public"


class Rating(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Generalisation(SpecModel):
    """One level of a quasi-identifier's hierarchy, applied to the previous level's value.

    Exactly one kind per level:

    - `bin: W` (numbers): the base value floored to a multiple of W, shown as 'a-b'; `top`/`bottom`
      code the tails ('18+', '<5'). Widths of successive bin levels must divide each other.
    - `prefix: N` (text): the first N characters, e.g. postal FSA 'K1A' -> district 'K'.
    - `attribute: NAME` (codes): the code list attribute of the code, e.g. a society's region;
      only as a first level, and the quasi-identifier must name its `code_list`.
    - `map: {value: group}`: explicit grouping; values not listed keep their value.
    - `rare: N`: values held by fewer than N rows are merged into `other` (rare categories merged).

    Whatever the kinds, linkhaven checks on the data that each level is a function of the one
    below (a true hierarchy); a level that is not is refused before anything is released.
    """

    bin: Annotated[int, pydantic.Field(ge=1)] | None = None
    top: float | None = None
    bottom: float | None = None
    prefix: Annotated[int, pydantic.Field(ge=1)] | None = None
    attribute: Name | None = None
    map: dict[Annotated[str, StringConstraints(min_length=1)], Label] | None = None
    rare: Annotated[int, pydantic.Field(ge=2)] | None = None
    other: Label = "other"

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [k for k in ("bin", "prefix", "attribute", "map", "rare") if getattr(self, k) is not None]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if len(kinds) != 1:
            problems.append(((), "give exactly one of bin, prefix, attribute, map or rare"))
        if (self.top is not None or self.bottom is not None) and self.bin is None:
            problems.append((("top",), "top and bottom coding go with a bin level"))
        if self.top is not None and self.bottom is not None and self.bottom >= self.top:
            problems.append((("bottom",), "must be below top"))
        fail(problems)
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("bin", "prefix", "attribute", "map", "rare") if getattr(self, k) is not None)


class QuasiIdentifier(SpecModel):
    """A panel column an attacker could know (IPC Step 2), with the levels it may be generalised to.

    The levels are listed from the finest up; a last level `*` (withheld) is always added unless
    the column is `fixed`, in which case it is never generalised and only suppression protects it.
    """

    column: Name
    code_list: Name | None = None
    """The spec code list of the column's codes, needed by `attribute` levels and for the dictionary."""
    levels: tuple[Generalisation, ...] = ()
    fixed: bool = False
    weight: Annotated[float, pydantic.Field(gt=0, le=100)] = 1.0
    """What generalising this column costs against the others (ARX's attribute weights): a column the
    analysis cannot do without weighs more, so the search gives way on the others first."""
    description: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.fixed and self.levels:
            problems.append((("levels",), "a fixed quasi-identifier is never generalised; remove its levels"))
        for index, level in enumerate(self.levels):
            if level.attribute is not None and (index > 0 or self.code_list is None):
                problems.append(
                    (("levels", index, "attribute"), "an attribute level must come first and needs code_list")
                )
        widths = [level.bin for level in self.levels if level.bin is not None]
        if widths and any(b % a for a, b in zip(widths, widths[1:], strict=False)):
            problems.append((("levels",), "each bin width must be a multiple of the previous one"))
        if widths and any(level.bin is None for level in self.levels[: len(widths)]):
            problems.append((("levels",), "bin levels come first, before any other kind"))
        fail(problems)
        return self


class NumericTransform(SpecModel):
    """How a released number is coarsened without being a quasi-identifier (top coding, rounding)."""

    top: float | None = None
    """Values above become `top` (the dictionary says 'top or more')."""
    bottom: float | None = None
    step: Annotated[float, pydantic.Field(gt=0)] | None = None
    """Values are floored to a multiple of `step` (e.g. 30 days)."""
    decimals: Annotated[int, pydantic.Field(ge=0, le=6)] | None = None


class ReleaseContext(SpecModel):
    """IPC Step 5 inputs for a non-public or semi-public release (ignored for public: context 1).

    Context risk is the largest of: a deliberate insider attack (the IPC table by the recipient's
    controls and motive), recognition by an acquaintance 1-(1-p)^m, and a breach at the recipient.
    """

    controls: Rating = Rating.HIGH
    """Privacy and security controls the recipient's agreement imposes (IPC Step 5 checklist, R38)."""
    motive: Rating = Rating.LOW
    """Motive and capacity of the recipient to re-identify."""
    acquaintance_prevalence: Probability
    """p: the share of the population that has the trait that puts a person in this release."""
    acquaintances: Annotated[int, pydantic.Field(ge=1)] = 150
    """m: how many people an attacker knows (the IPC uses 150 to 190)."""
    breach_probability: Probability
    """Probability of a breach at the recipient (an industry breach rate)."""


class ReleaseSection(SpecModel):
    """One de-identified release of a panel (`linkhaven release create --spec-section NAME`)."""

    title: Text
    panel: Name | None = None
    """The panel (under `panels:`) this release is made from; the spec's only panel when omitted."""
    recipient: Name
    """A recipient under `recipients` that may receive de-identified data."""
    release_model: ReleaseModel = ReleaseModel.NON_PUBLIC
    context: ReleaseContext | None = None
    pseudonyms: Literal["random", "keyed"] = "random"
    """random: fresh per release, never stored; keyed: HMAC under a key derived per release from the
    releases zone key, so the unit (never the analyst) can re-derive them, e.g. after an incident."""
    quasi_identifiers: Annotated[tuple[QuasiIdentifier, ...], pydantic.Field(min_length=1)]
    sensitive: tuple[Name, ...] = ()
    """Released columns whose values must not be disclosed about a class (attribute disclosure, R33)."""
    l_diversity: dict[Name, Annotated[int, pydantic.Field(ge=2)]] = {}
    """Distinct l-diversity per sensitive column: a class holding that column's values holds at least l of them."""
    columns: tuple[Name, ...] = ()
    """Other panel columns released as they are (program variables, linkage quality)."""
    transforms: dict[Name, NumericTransform] = {}
    risk_threshold: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None
    """Stricter than the spec's threshold if given (R6); never looser."""
    suppression_limit: Annotated[float, pydantic.Field(gt=0, lt=1)] | None = None
    """Share of rows that may be suppressed; defaults to thresholds.suppression_limit, may only be lower."""
    protect: tuple[Name, ...] = ()
    """Panel columns whose every value group must also keep the suppression limit, so a small group (the
    children served by child welfare) is not simply suppressed away while the whole stays under the limit."""

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        qi = [q.column for q in self.quasi_identifiers]
        seen: dict[str, str] = {}
        for where, names in (("quasi_identifiers", qi), ("sensitive", self.sensitive), ("columns", self.columns)):
            for index, name in enumerate(names):
                if name in seen:
                    problems.append(((where, index), f"column '{name}' is already listed under {seen[name]}"))
                seen.setdefault(name, where)
        for name in self.l_diversity:
            if name not in self.sensitive:
                problems.append((("l_diversity", name), "only sensitive columns take an l-diversity"))
        for name in self.transforms:
            if name not in self.columns and name not in self.sensitive:
                problems.append((("transforms", name), "transforms apply to columns or sensitive columns"))
        if self.release_model is not ReleaseModel.PUBLIC and self.context is None:
            problems.append((("context",), f"a {self.release_model} release needs its context (IPC Step 5)"))
        fail(problems)
        return self

    @property
    def released_columns(self) -> tuple[str, ...]:
        """Panel columns in the release, in order: quasi-identifiers, sensitive, the rest."""
        return (*(q.column for q in self.quasi_identifiers), *self.sensitive, *self.columns)

"""The project's governance: who runs it and under what authority, for whom, with which thresholds,
recipients, retention and notice.

These are the sections the privacy office writes and the public notice quotes; the window is
here because the notice announces it (R12).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

import pydantic
from pydantic import StringConstraints, model_validator

from linkhaven.spec.vocabulary import (
    EMAIL_PATTERN,
    IPC_RISK_THRESHOLDS,
    IPC_STRICT_AVERAGE_ROW_CAP,
    SECTION_PATTERN,
    DataClass,
    InvasionLevel,
    Name,
    Problem,
    RecipientKind,
    SchoolYear,
    Slug,
    SpecModel,
    Text,
    fail,
    placeholder_problems,
)


class Project(SpecModel):
    id: Slug
    title: Text
    unit: Text
    unit_abbreviation: Text
    division: Text
    ministry: Text
    ministry_abbreviation: Text


class LegalAuthority(SpecModel):
    act: Text
    part: Text
    sections: Annotated[
        tuple[Annotated[str, StringConstraints(pattern=SECTION_PATTERN)], ...], pydantic.Field(min_length=1)
    ]


class Population(SpecModel):
    id: Name
    description: Text
    """Notice wording; `{window}` is replaced by the school years, e.g. '2017–18 to 2022–23'."""

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        fail(placeholder_problems(self.description, {"window"}, ("description",)))
        return self


class Window(SpecModel):
    """The collection window the notice announces (R12): rows outside it are quarantined at intake.

    Optional: a project without one collects without a time limit (the window is then unbounded).
    The school years belong to the `school_year` period derivation (`linkhaven.derivations.ontario`)
    and to sources placed in time by a school-year field; start and end dates bound episode dates.
    """

    first_school_year: SchoolYear | None = None
    last_school_year: SchoolYear | None = None
    start_date: dt.date = dt.date.min
    end_date: dt.date = dt.date.max

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problems: list[Problem] = []
        if (self.first_school_year is None) != (self.last_school_year is None):
            fail([(("last_school_year",), "give both first_school_year and last_school_year, or neither")])
        if self.first_school_year is None or self.last_school_year is None:
            if self.start_date > self.end_date:
                fail([(("end_date",), "must not come before start_date")])
            return self
        for key in ("first_school_year", "last_school_year"):
            year = getattr(self, key)
            if int(year[5:]) != (int(year[:4]) + 1) % 100:
                problems.append(((key,), "expected consecutive years such as '2017-18'"))
        if problems:
            fail(problems)
        first, last = int(self.first_school_year[:4]), int(self.last_school_year[:4])
        if first > last:
            problems.append((("last_school_year",), "must not come before first_school_year"))
        if not dt.date(first, 9, 1) <= self.start_date <= dt.date(first + 1, 8, 31):
            problems.append((("start_date",), f"expected a date in school year {self.first_school_year}"))
        if not dt.date(last, 9, 1) <= self.end_date <= dt.date(last + 1, 8, 31):
            problems.append((("end_date",), f"expected a date in school year {self.last_school_year}"))
        if self.start_date > self.end_date:
            problems.append((("end_date",), "must not come before start_date"))
        fail(problems)
        return self

    @property
    def school_years(self) -> tuple[str, ...]:
        """The window's school years in order; none for a window without school years."""
        if self.first_school_year is None or self.last_school_year is None:
            return ()
        first, last = int(self.first_school_year[:4]), int(self.last_school_year[:4])
        return tuple(f"{year}-{(year + 1) % 100:02d}" for year in range(first, last + 1))

    def contains(self, day: dt.date) -> bool:
        """Whether a date falls in the window; rows outside it are quarantined (R12)."""
        return self.start_date <= day <= self.end_date


class Category(SpecModel):
    """A category of information as the notice announces it (R8)."""

    name: Text
    notice_text: Text
    """The notice bullet; `{items}` becomes the notice labels of this category's fields, e.g. 'a, b and c'."""
    derived_items: tuple[Text, ...] = ()
    """Information the notice names that is derived from collected fields (e.g. age), listed first."""

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        fail(placeholder_problems(self.notice_text, {"items"}, ("notice_text",)))
        return self


class Recipient(SpecModel):
    name: Text
    """As the notice names the recipient, e.g. 'the Ministry of Education'."""
    kind: RecipientKind
    data_classes: Annotated[tuple[DataClass, ...], pydantic.Field(min_length=1)]
    through: tuple[Name, ...] = ()
    """Recipients reached only through other recipients (e.g. young audiences through the societies)."""

    @model_validator(mode="after")
    def _may_receive(self) -> Self:
        # Analysts get de-identified data only (R22); everyone outside the unit gets aggregates only.
        allowed = (
            {DataClass.DEIDENTIFIED, DataClass.AGGREGATE}
            if self.kind is RecipientKind.INTERNAL_ANALYST
            else {DataClass.AGGREGATE}
        )
        refused = [data_class for data_class in self.data_classes if data_class not in allowed]
        if refused:
            fail(
                [
                    (
                        ("data_classes",),
                        f"a {self.kind} recipient may receive only {', '.join(sorted(allowed))}; "
                        "personal information is disclosed only under disclosure_bases",
                    )
                ]
            )
        return self


class Thresholds(SpecModel):
    invasion_level: InvasionLevel
    risk_threshold: float = pydantic.Field(gt=0, le=1)
    """Defaults to the threshold the invasion level implies; may only be stricter (R6)."""
    strict_average_row_cap: float = pydantic.Field(
        default=IPC_STRICT_AVERAGE_ROW_CAP, gt=0, le=IPC_STRICT_AVERAGE_ROW_CAP
    )
    min_cell_size: int = pydantic.Field(default=10, ge=3)
    min_cell_size_reason: Text | None = None
    """Why a minimum cell size below 5 is acceptable; required for 3 and 4, which TBS allows only under agreements."""
    rounding_base: int = pydantic.Field(default=5, ge=5)
    suppression_limit: float = pydantic.Field(default=0.05, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _default_risk_threshold(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("risk_threshold") is None:
            level = data.get("invasion_level")
            # An unknown level is reported on its own; the strictest value keeps this key quiet meanwhile.
            implied = min(IPC_RISK_THRESHOLDS.values())
            if isinstance(level, str) and level in {member.value for member in InvasionLevel}:
                implied = IPC_RISK_THRESHOLDS[InvasionLevel(level)]
            data = {**data, "risk_threshold": implied}
        return data

    @model_validator(mode="after")
    def _not_looser(self) -> Self:
        problems: list[Problem] = []
        implied = IPC_RISK_THRESHOLDS[self.invasion_level]
        if self.risk_threshold > implied:
            problems.append(
                (
                    ("risk_threshold",),
                    f"must be at most {implied}, the IPC threshold for invasion level '{self.invasion_level}' "
                    "(a unit may only be stricter)",
                )
            )
        if self.min_cell_size < 5 and self.min_cell_size_reason is None:
            problems.append(
                (("min_cell_size",), "below 5 needs min_cell_size_reason (e.g. the agreement that allows it)")
            )
        fail(problems)
        return self


PositiveDays = Annotated[int, pydantic.Field(ge=1)]


class RetentionDays(SpecModel):
    identity: PositiveDays
    content: PositiveDays
    linkage: PositiveDays
    releases: PositiveDays
    publications: PositiveDays
    audit: PositiveDays

    @model_validator(mode="after")
    def _audit_outlives_data(self) -> Self:
        # The audit log proves what happened to every zone, including its destruction.
        longest = max(self.identity, self.content, self.linkage, self.releases, self.publications)
        if self.audit < longest:
            fail([(("audit",), f"must be at least {longest} days, the longest period of any zone it records")])
        return self


class Retention(SpecModel):
    days: RetentionDays
    destroy_identity_after_linkage: bool = False

    def days_for(self, zone: str) -> int:
        """Retention of a zone by name, as zones and registers name them ('identity', 'audit', ...)."""
        if zone not in RetentionDays.model_fields:
            raise KeyError(zone)
        return int(getattr(self.days, zone))


class Contact(SpecModel):
    title: Text
    unit: Text
    division: Text
    ministry: Text
    address_lines: Annotated[tuple[Text, ...], pydantic.Field(min_length=1)]
    postal_code: Text | None = None
    """In the country's own format; the notice prints it after the address lines."""
    email: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]


class Revision(SpecModel):
    date: dt.date
    summary: Text


class Notice(SpecModel):
    """The notice's dates and the sentences that are the unit's own words, not generated from data."""

    title: Text
    originally_published: dt.date
    revisions: tuple[Revision, ...] = ()
    collected_from: Text
    deidentification_statement: Text
    data_standards_statement: Text
    contact_intro: Text

    @model_validator(mode="after")
    def _dated_in_order(self) -> Self:
        problems: list[Problem] = []
        previous = self.originally_published
        for index, revision in enumerate(self.revisions):
            if revision.date < previous:
                problems.append(
                    (("revisions", index, "date"), "revisions must be in date order, after originally_published")
                )
            previous = max(previous, revision.date)
        fail(problems)
        return self

    @property
    def last_revised(self) -> dt.date | None:
        return self.revisions[-1].date if self.revisions else None


class Identifiers(SpecModel):
    check_digits: Literal["none", "luhn"] = "none"
    """Which check-digit algorithm intake verifies, for identifier rules that have one (`check:` on a
    field). Some official rules are not public, so production may check the format only ('none');
    'luhn' is the stand-in the synthetic generator uses, for rehearsals."""

"""The project spec: the one document that declares a data integration (DI) project.

A unit describes its project here instead of in code, so that another unit with other sources
writes another spec, not other code. Intake validates rows against the source fields, linkage
reads the identity fields, de-identification and publication read the thresholds, governance
reads recipients, disclosure bases and retention, and the public notice is rendered from the
same document, so what the notice promises and what the software does cannot drift apart.

Every model is frozen and refuses unknown keys: a misspelt key in a privacy control must fail
loudly instead of silently falling back to a default. Rules that span several keys report each
problem at its own path (see `CONSISTENCY_ERROR`), so the loader can point at every line at once.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from linkhaven.errors import SpecError
from linkhaven.spec.indicators import IndicatorSet
from linkhaven.spec.linkage import Linkage as Linkage
from linkhaven.spec.linkage import linkage_problems
from linkhaven.spec.panels import Panel, panel_problems
from linkhaven.spec.releases import ReleaseSection

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
"""A problem found by a cross-key rule: where it is (relative to the model checked) and what was expected."""

CONSISTENCY_ERROR = "spec_consistency"
"""Pydantic error type whose `ctx["problems"]` holds several `Problem`s; the loader expands them."""

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SCHOOL_YEAR_PATTERN = r"^\d{4}-\d{2}$"
SECTION_PATTERN = r"^\d+(?:\.\d+)*(?:\([0-9a-z.]+\))*$"
POSTAL_CODE_PATTERN = r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

PATTERN_HINTS: Mapping[str, str] = MappingProxyType(
    {
        SLUG_PATTERN: "a lower-case slug such as 'ontario-children-in-care'",
        NAME_PATTERN: "a lower-case name such as 'cpin' or 'birth_date' (letters, digits, underscores)",
        SCHOOL_YEAR_PATTERN: "a school year such as '2017-18'",
        SECTION_PATTERN: "a section number such as '49.2' or '49.4(1)'",
        POSTAL_CODE_PATTERN: "a Canadian postal code such as 'M7A 0B8'",
        EMAIL_PATTERN: "an email address",
    }
)
"""What each pattern means in words, for error messages people can act on."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Char = Annotated[str, StringConstraints(min_length=1, max_length=1)]
SchoolYear = Annotated[str, StringConstraints(pattern=SCHOOL_YEAR_PATTERN)]
Probability = Annotated[float, pydantic.Field(ge=0, le=1)]


class Purpose(StrEnum):
    """The three purposes FIPPA Part III.1 allows (R1); anything else is refused at load time."""

    RESOURCE_MANAGEMENT = "resource_management"
    PROGRAM_PLANNING = "program_planning"
    PROGRAM_EVALUATION = "program_evaluation"


class LegalSourceType(StrEnum):
    """Who a DI unit may collect from (R10); a source of any other kind cannot be declared."""

    INSTITUTION = "institution"
    MINISTRY_DI_UNIT = "ministry_di_unit"
    INTER_MINISTERIAL_DI_UNIT = "inter_ministerial_di_unit"
    EXTRA_MINISTERIAL_DI_UNIT = "extra_ministerial_di_unit"
    PRESCRIBED_PERSON = "prescribed_person"


class FileType(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


class Encoding(StrEnum):
    """Encodings institutions actually deliver; `detect` lets intake sniff BOMs and cp1252."""

    UTF8 = "utf-8"
    UTF8_SIG = "utf-8-sig"
    CP1252 = "cp1252"
    LATIN1 = "latin-1"
    DETECT = "detect"


class FieldType(StrEnum):
    STRING = "string"
    DATE = "date"
    INTEGER = "integer"
    DECIMAL = "decimal"
    CODE = "code"


class DataClass(StrEnum):
    """The four data classes; zones, retention and disclosure rules are keyed on them (R14)."""

    PERSONAL = "personal"
    CODED = "coded"
    DEIDENTIFIED = "deidentified"
    AGGREGATE = "aggregate"


class Role(StrEnum):
    """The IPC variable classification (R25), which drives splitting and de-identification."""

    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    SENSITIVE = "sensitive"
    PROGRAM = "program"


class Check(StrEnum):
    """Format checks beyond the type; the OEN check digit is not public, so `oen` checks 9 digits only."""

    OEN = "oen"
    POSTAL_CODE = "postal_code"


class RecipientKind(StrEnum):
    INTERNAL_ANALYST = "internal_analyst"
    MINISTRY = "ministry"
    SERVICE_PROVIDER = "service_provider"
    ASSOCIATION = "association"
    PUBLIC = "public"


class DisclosureBasis(StrEnum):
    """The further disclosures of PI a notice may announce (R36 and the notice's last bullet)."""

    ANOTHER_DI_UNIT = "another_di_unit"
    REQUIRED_BY_LAW = "required_by_law"
    INVESTIGATION = "investigation"
    COURT_OR_TRIBUNAL = "court_or_tribunal"
    IPC = "ipc"
    RESEARCH = "research"


class InvasionLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Assessment(StrEnum):
    PIA = "pia"
    TRA = "tra"


IPC_RISK_THRESHOLDS: Mapping[InvasionLevel, float] = MappingProxyType(
    {InvasionLevel.LOW: 0.1, InvasionLevel.MEDIUM: 0.075, InvasionLevel.HIGH: 0.05}
)
"""Re-identification risk threshold per invasion-of-privacy level (IPC 2016, Step 3 table)."""

IPC_STRICT_AVERAGE_ROW_CAP = 0.33
"""Strict-average cap per row for non-public releases (IPC 2016 §4.2); a spec may only lower it."""


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc) or "(here)"


def _fail(problems: list[Problem]) -> None:
    """Raise all problems as one pydantic error; the loader turns each into its own line."""
    if problems:
        detail = "; ".join(f"{_dotted(loc)}: {message}" for loc, message in problems)
        raise PydanticCustomError(CONSISTENCY_ERROR, "{detail}", {"detail": detail, "problems": tuple(problems)})


def _placeholder_problems(text: str, allowed: set[str], where: Loc) -> list[Problem]:
    """Notice texts are str.format templates; refuse anything but the named placeholders."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return [(where, "unbalanced braces; write {{ and }} for literal braces")]
    names = {"{" + name + "}" for name in sorted(allowed)}
    return [
        (where, f"unknown placeholder {{{name}}}; allowed: {', '.join(sorted(names)) or 'none'}")
        for _, name, spec, conversion in parsed
        if name is not None and (name not in allowed or spec or conversion)
    ]


def join_and(items: Iterable[str]) -> str:
    """'a, b and c', the list style of Ontario notices (no serial comma)."""
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Project(_Model):
    id: Slug
    title: Text
    unit: Text
    unit_abbreviation: Text
    division: Text
    ministry: Text
    ministry_abbreviation: Text


class LegalAuthority(_Model):
    act: Text
    part: Text
    sections: Annotated[
        tuple[Annotated[str, StringConstraints(pattern=SECTION_PATTERN)], ...], pydantic.Field(min_length=1)
    ]


class Population(_Model):
    id: Name
    description: Text
    """Notice wording; `{window}` is replaced by the school years, e.g. '2017–18 to 2022–23'."""

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        _fail(_placeholder_problems(self.description, {"window"}, ("description",)))
        return self


class Window(_Model):
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
            _fail([(("last_school_year",), "give both first_school_year and last_school_year, or neither")])
        if self.first_school_year is None or self.last_school_year is None:
            if self.start_date > self.end_date:
                _fail([(("end_date",), "must not come before start_date")])
            return self
        for key in ("first_school_year", "last_school_year"):
            year = getattr(self, key)
            if int(year[5:]) != (int(year[:4]) + 1) % 100:
                problems.append(((key,), "expected consecutive years such as '2017-18'"))
        if problems:
            _fail(problems)
        first, last = int(self.first_school_year[:4]), int(self.last_school_year[:4])
        if first > last:
            problems.append((("last_school_year",), "must not come before first_school_year"))
        if not dt.date(first, 9, 1) <= self.start_date <= dt.date(first + 1, 8, 31):
            problems.append((("start_date",), f"expected a date in school year {self.first_school_year}"))
        if not dt.date(last, 9, 1) <= self.end_date <= dt.date(last + 1, 8, 31):
            problems.append((("end_date",), f"expected a date in school year {self.last_school_year}"))
        if self.start_date > self.end_date:
            problems.append((("end_date",), "must not come before start_date"))
        _fail(problems)
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


class FileFormat(_Model):
    type: FileType
    delimiter: Char = ","
    encoding: Encoding = Encoding.UTF8
    quote_char: Char = '"'


def _valid_date_format(pattern: str) -> bool:
    # A day above 12 and a month above 9 catch patterns that drop or swap a part of the date.
    sample = dt.date(2017, 10, 28)
    try:
        return dt.datetime.strptime(sample.strftime(pattern), pattern).date() == sample
    except ValueError:
        return False


class Field(_Model):
    """One institution column and what it means: the unit of validation, splitting and minimisation."""

    name: Name
    column: Annotated[str, StringConstraints(min_length=1)]
    type: FieldType
    date_format: str | None = None
    data_class: DataClass
    role: Role
    category: Name
    required: bool = False
    code_list: Name | None = None
    min: float | None = None
    max: float | None = None
    check: Check | None = None
    description: Text | None = None
    invalid: Literal["quarantine", "set_null"] = "quarantine"
    """What intake does with a value that fails its checks: quarantine the row, or (optional fields only)
    discard just the value, so that e.g. a child-welfare record is not lost for a mistyped OEN."""
    notice_label: Text | None = None
    """How the notice names this information, e.g. 'cumulative days in care'; none keeps it out of the list."""

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problems: list[Problem] = []
        if self.role is Role.DIRECT_IDENTIFIER and self.data_class is not DataClass.PERSONAL:
            problems.append(
                (("data_class",), "a direct identifier must be data class 'personal' (it belongs in the identity zone)")
            )
        if self.type is FieldType.DATE:
            if self.date_format is None:
                problems.append((("date_format",), "required for a date field (a strftime pattern such as '%Y-%m-%d')"))
            elif not _valid_date_format(self.date_format):
                problems.append(
                    (("date_format",), "expected a strftime pattern with year, month and day, such as '%Y%m%d'")
                )
        elif self.date_format is not None:
            problems.append((("date_format",), f"only date fields take a date_format (this one is {self.type})"))
        if self.type is FieldType.CODE and self.code_list is None:
            problems.append((("code_list",), "required for a code field (the name of a list under code_lists)"))
        elif self.type is not FieldType.CODE and self.code_list is not None:
            problems.append((("code_list",), f"only code fields take a code_list (this one is {self.type})"))
        numeric = self.type in (FieldType.INTEGER, FieldType.DECIMAL)
        for bound in ("min", "max"):
            if getattr(self, bound) is not None and not numeric:
                problems.append(((bound,), f"only integer and decimal fields take {bound} (this one is {self.type})"))
        if self.min is not None and self.max is not None and self.min > self.max:
            problems.append((("max",), "must not be below min"))
        if self.check is not None and self.type is not FieldType.STRING:
            problems.append((("check",), f"format checks apply to string fields (this one is {self.type})"))
        if self.invalid == "set_null" and self.required:
            problems.append(
                (("invalid",), "set_null applies to optional fields only; a required value cannot be dropped")
            )
        _fail(problems)
        return self

    @property
    def is_identity(self) -> bool:
        """Personal fields go to the identity zone; everything else to the content zone."""
        return self.data_class is DataClass.PERSONAL


def _column_key(column: str) -> str:
    # Institutions change header case and pad headers; a forbidden column must not slip through that way.
    return column.strip().casefold()


class Period(_Model):
    """Which fields place a row in time, so rows outside the notice's window are quarantined (R12).

    Either a school-year field, or an episode given by a start (and optional end) date field.
    """

    school_year: Name | None = None
    start: Name | None = None
    end: Name | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.school_year is None) == (self.start is None):
            _fail([((), "give either school_year, or start (with an optional end)")])
        if self.end is not None and self.start is None:
            _fail([(("end",), "an end needs a start")])
        return self


class PopulationAge(_Model):
    """The ages the notice's population can have, at the start of the row's period (R12)."""

    birth_date: Name
    min: Annotated[int, pydantic.Field(ge=0, le=120)]
    max: Annotated[int, pydantic.Field(ge=0, le=120)]


class Source(_Model):
    institution: Text
    system: Text
    legal_source_type: LegalSourceType
    format: FileFormat
    record_id: Name
    populations: Annotated[tuple[Name, ...], pydantic.Field(min_length=1)]
    fields: Annotated[tuple[Field, ...], pydantic.Field(min_length=1)]
    forbidden_columns: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = ()
    period: Period | None = None
    population_age: PopulationAge | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problems: list[Problem] = []
        forbidden = {_column_key(column) for column in self.forbidden_columns}
        names: dict[str, int] = {}
        columns: dict[str, int] = {}
        for index, field in enumerate(self.fields):
            if field.name in names:
                problems.append(
                    (
                        ("fields", index, "name"),
                        f"canonical name '{field.name}' is already used by fields.{names[field.name]}",
                    )
                )
            names.setdefault(field.name, index)
            key = _column_key(field.column)
            if key in columns:
                problems.append(
                    (
                        ("fields", index, "column"),
                        f"column already mapped by fields.{columns[key]} (compared ignoring case and spaces)",
                    )
                )
            columns.setdefault(key, index)
            if key in forbidden:
                problems.append((("fields", index, "column"), "this column is listed in forbidden_columns"))
        if self.record_id not in names:
            problems.append((("record_id",), "expected the canonical name of one of this source's fields"))
        elif not self.fields[names[self.record_id]].required:
            problems.append(
                (("record_id",), "the record id field must be required: true, so every row can be accounted for")
            )
        if len(set(self.populations)) != len(self.populations):
            problems.append((("populations",), "lists a population twice"))
        problems.extend(self._reference_problems(names))
        _fail(problems)
        return self

    def _reference_problems(self, names: Mapping[str, int]) -> list[Problem]:
        wanted: dict[Loc, tuple[str | None, set[FieldType]]] = {}
        if self.period is not None:
            wanted[("period", "school_year")] = (self.period.school_year, {FieldType.CODE, FieldType.STRING})
            wanted[("period", "start")] = (self.period.start, {FieldType.DATE})
            wanted[("period", "end")] = (self.period.end, {FieldType.DATE})
        if self.population_age is not None:
            wanted[("population_age", "birth_date")] = (self.population_age.birth_date, {FieldType.DATE})
            if self.population_age.min > self.population_age.max:
                wanted[("population_age", "max")] = (None, set())
        problems: list[Problem] = []
        for loc, (name, types) in wanted.items():
            if loc == ("population_age", "max"):
                problems.append((loc, "must not be below min"))
            elif name is not None and name not in names:
                problems.append((loc, f"'{name}' is not the canonical name of one of this source's fields"))
            elif name is not None and self.fields[names[name]].type not in types:
                problems.append((loc, f"'{name}' must be a {' or '.join(sorted(types))} field"))
        return problems

    @cached_property
    def field_by_name(self) -> Mapping[str, Field]:
        """Fields by canonical name."""
        return MappingProxyType({field.name: field for field in self.fields})

    @cached_property
    def field_by_column(self) -> Mapping[str, Field]:
        """Fields by the institution's column name, exactly as the spec writes it."""
        return MappingProxyType({field.column: field for field in self.fields})

    @property
    def record_id_field(self) -> Field:
        return self.field_by_name[self.record_id]

    def identity_fields(self) -> tuple[Field, ...]:
        """The fields intake writes to the identity zone (data class `personal`)."""
        return tuple(field for field in self.fields if field.is_identity)

    def content_fields(self) -> tuple[Field, ...]:
        """The fields intake writes to the content zone, keyed by record code."""
        return tuple(field for field in self.fields if not field.is_identity)

    def forbidden_in(self, header: Iterable[str]) -> tuple[str, ...]:
        """The header names that are forbidden columns, compared ignoring case and surrounding spaces."""
        forbidden = {_column_key(column) for column in self.forbidden_columns}
        return tuple(column for column in header if _column_key(column) in forbidden)


CodeValue = str | int | float | bool


class CodeEntry(BaseModel):
    """One code and its label; other attributes (region, indigenous, ...) are open per list.

    Attributes are open because each list carries its own (a society has a region, a board a
    language); the spec checks instead that every code of a list carries the same attributes,
    which catches a misspelt attribute as surely as a closed model would.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Text | None = None

    @model_validator(mode="after")
    def _scalar_attributes(self) -> Self:
        problems: list[Problem] = []
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, CodeValue):
                problems.append(((key,), "code attributes must be plain values (text, number, true or false)"))
        _fail(problems)
        return self

    @property
    def attributes(self) -> Mapping[str, CodeValue]:
        return MappingProxyType(dict(self.model_extra or {}))


def _normalise_code_list(raw: object) -> object:
    """Accept a list of codes or a mapping code -> label or attributes; codes are always text."""
    if isinstance(raw, list | tuple):
        entries: dict[object, object] = {}
        for code in raw:
            if isinstance(code, bool):
                raise PydanticCustomError(
                    "code_boolean", "a code was read as true/false; quote codes such as 'Y', 'N', 'yes', 'no'"
                )
            if isinstance(code, int | str):
                key = str(code)
                if key in entries:
                    raise PydanticCustomError("code_duplicate", "lists the code '{code}' twice", {"code": key})
                entries[key] = {}
            else:
                raise PydanticCustomError("code_type", "expected codes as text or whole numbers")
        return entries
    if isinstance(raw, Mapping):
        normalised: dict[object, object] = {}
        for code, value in raw.items():
            if isinstance(code, bool):
                raise PydanticCustomError(
                    "code_boolean", "a code was read as true/false; quote codes such as 'Y', 'N', 'yes', 'no'"
                )
            key = str(code) if isinstance(code, int) else code
            normalised[key] = {"name": value} if isinstance(value, str) else ({} if value is None else value)
        return normalised
    return raw


class Category(_Model):
    """A category of information as the notice announces it (R8)."""

    name: Text
    notice_text: Text
    """The notice bullet; `{items}` becomes the notice labels of this category's fields, e.g. 'a, b and c'."""
    derived_items: tuple[Text, ...] = ()
    """Information the notice names that is derived from collected fields (e.g. age), listed first."""

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        _fail(_placeholder_problems(self.notice_text, {"items"}, ("notice_text",)))
        return self


class Recipient(_Model):
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
            _fail(
                [
                    (
                        ("data_classes",),
                        f"a {self.kind} recipient may receive only {', '.join(sorted(allowed))}; "
                        "personal information is disclosed only under disclosure_bases",
                    )
                ]
            )
        return self


class Thresholds(_Model):
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
        _fail(problems)
        return self


PositiveDays = Annotated[int, pydantic.Field(ge=1)]


class RetentionDays(_Model):
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
            _fail([(("audit",), f"must be at least {longest} days, the longest period of any zone it records")])
        return self


class Retention(_Model):
    days: RetentionDays
    destroy_identity_after_linkage: bool = False

    def days_for(self, zone: str) -> int:
        """Retention of a zone by name, as zones and registers name them ('identity', 'audit', ...)."""
        if zone not in RetentionDays.model_fields:
            raise KeyError(zone)
        return int(getattr(self.days, zone))


class Contact(_Model):
    title: Text
    unit: Text
    division: Text
    ministry: Text
    address_lines: Annotated[tuple[Text, ...], pydantic.Field(min_length=1)]
    postal_code: Annotated[str, StringConstraints(pattern=POSTAL_CODE_PATTERN)]
    email: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]


class Revision(_Model):
    date: dt.date
    summary: Text


class Notice(_Model):
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
        _fail(problems)
        return self

    @property
    def last_revised(self) -> dt.date | None:
        return self.revisions[-1].date if self.revisions else None


class Identifiers(_Model):
    oen_check_digit: Literal["none", "luhn"] = "none"
    """The OEN check-digit rule is not public: production checks the 9-digit format only ('none');
    'luhn' is the stand-in the synthetic generator uses, for rehearsals."""


class ProjectSpec(_Model):
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
    def _normalise_code_lists(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        normalised: dict[object, object] = {}
        problems: list[Problem] = []
        for name, codes in raw.items():
            try:
                normalised[name] = _normalise_code_list(codes)
            except PydanticCustomError as err:
                problems.append(((str(name),), err.message()))
        _fail(problems)
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
        _fail(problems)
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
        _fail(problems)
        return populations

    @field_validator("assessments_required", mode="after")
    @classmethod
    def _unique_assessments(cls, assessments: tuple[Assessment, ...]) -> tuple[Assessment, ...]:
        if len(set(assessments)) != len(assessments):
            _fail([((), "lists an assessment twice")])
        return assessments

    @model_validator(mode="after")
    def _references(self) -> Self:
        fields = {name: {field.name for field in source.fields} for name, source in self.sources.items()}
        _fail(reference_problems(self.model_dump()) + linkage_problems(self.linkage, fields))
        return self

    @model_validator(mode="after")
    def _panels(self) -> Self:
        _fail(panel_problems(self))
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
        _fail(problems)
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

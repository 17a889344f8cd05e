"""Sources: what each institution delivers, field by field, and the code lists values are checked against.

A field is the unit of validation, splitting and minimisation: its data class sends it to the
identity or the content zone, its role drives de-identification, its type and checks drive intake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Literal, Self

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from linkhaven.derivations.identifiers import rule_names
from linkhaven.spec.vocabulary import (
    Char,
    DataClass,
    Encoding,
    FieldType,
    FileType,
    LegalSourceType,
    Loc,
    Name,
    Problem,
    Role,
    SpecModel,
    Text,
    fail,
)


class FileFormat(SpecModel):
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


class Field(SpecModel):
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
    check: Name | None = None
    """A named identifier rule (`linkhaven.derivations.identifiers`) the value must satisfy."""
    description: Text | None = None
    invalid: Literal["quarantine", "set_null"] = "quarantine"
    """What intake does with a value that fails its checks: quarantine the row, or (optional fields only)
    discard just the value, so that e.g. a case record is not lost for a mistyped identifier."""
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
        elif self.check is not None and self.check not in rule_names():
            problems.append((("check",), f"no identifier rule '{self.check}'; known rules: {', '.join(rule_names())}"))
        if self.invalid == "set_null" and self.required:
            problems.append(
                (("invalid",), "set_null applies to optional fields only; a required value cannot be dropped")
            )
        fail(problems)
        return self

    @property
    def is_identity(self) -> bool:
        """Personal fields go to the identity zone; everything else to the content zone."""
        return self.data_class is DataClass.PERSONAL


def _column_key(column: str) -> str:
    # Institutions change header case and pad headers; a forbidden column must not slip through that way.
    return column.strip().casefold()


class Period(SpecModel):
    """Which fields place a row in time, so rows outside the notice's window are quarantined (R12).

    Either a school-year field, or an episode given by a start (and optional end) date field.
    """

    school_year: Name | None = None
    start: Name | None = None
    end: Name | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.school_year is None) == (self.start is None):
            fail([((), "give either school_year, or start (with an optional end)")])
        if self.end is not None and self.start is None:
            fail([(("end",), "an end needs a start")])
        return self


class PopulationAge(SpecModel):
    """The ages the notice's population can have, at the start of the row's period (R12)."""

    birth_date: Name
    min: Annotated[int, pydantic.Field(ge=0, le=120)]
    max: Annotated[int, pydantic.Field(ge=0, le=120)]


class Source(SpecModel):
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
        fail(problems)
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
        fail(problems)
        return self

    @property
    def attributes(self) -> Mapping[str, CodeValue]:
        return MappingProxyType(dict(self.model_extra or {}))


def normalise_code_list(raw: object) -> object:
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

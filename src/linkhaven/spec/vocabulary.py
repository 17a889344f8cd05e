"""The spec's vocabulary: the names, patterns, enumerations and error plumbing every section shares.

Every model is frozen and refuses unknown keys (`SpecModel`): a misspelt key in a privacy control
must fail loudly instead of silently falling back to a default. Rules that span several keys
report each problem at its own path through `fail` (see `CONSISTENCY_ERROR`), so the loader can
point at every line at once. The patterns carry a hint in words (`PATTERN_HINTS`) for the same reason.
This module imports no other part of the spec, so every section can build on it.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
"""A problem found by a cross-key rule: where it is (relative to the model checked) and what was expected."""

CONSISTENCY_ERROR = "spec_consistency"
"""Pydantic error type whose `ctx["problems"]` holds several `Problem`s; the loader expands them."""

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SCHOOL_YEAR_PATTERN = r"^\d{4}-\d{2}$"
SECTION_PATTERN = r"^\d+(?:\.\d+)*(?:\([0-9a-z.]+\))*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

PATTERN_HINTS: Mapping[str, str] = MappingProxyType(
    {
        SLUG_PATTERN: "a lower-case slug such as 'ontario-children-in-care'",
        NAME_PATTERN: "a lower-case name such as 'school' or 'birth_date' (letters, digits, underscores)",
        SCHOOL_YEAR_PATTERN: "a school year such as '2017-18'",
        SECTION_PATTERN: "a section number such as '49.2' or '49.4(1)'",
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


def fail(problems: list[Problem]) -> None:
    """Raise all problems as one pydantic error; the loader turns each into its own line."""
    if problems:
        detail = "; ".join(f"{_dotted(loc)}: {message}" for loc, message in problems)
        raise PydanticCustomError(CONSISTENCY_ERROR, "{detail}", {"detail": detail, "problems": tuple(problems)})


def placeholder_problems(text: str, allowed: set[str], where: Loc) -> list[Problem]:
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


class SpecModel(BaseModel):
    """Frozen, and refuses unknown keys: a misspelt key in a privacy control must fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

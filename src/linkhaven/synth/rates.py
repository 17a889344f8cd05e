"""Identity-error rates: every rate the generator uses, with its default and the reason for it.

Linkage is only as good as the errors it was tested against, so each rate is a named, documented,
configurable number rather than a constant buried in code. `docs/synthetic-data.md` explains each
one (what, how often, why, source or "assumed"); a test checks that every field is documented there
and that the rates measured from generated extracts match these values.

Rates are per *record* unless the field says otherwise. Where a rate only makes sense for some
records (a nickname needs a name that has a short form), it is the share *among eligible records*;
the field's description names the eligibility rule. Variants of one field are mutually exclusive
(one uniform draw per record picks at most one), so each configured rate is exactly the expected
share of its kind and the tests can measure each kind on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from linkhaven.errors import LinkhavenError

SOURCES = ("cpin", "onsis", "eqao")


class SynthError(LinkhavenError):
    """The generator was asked for something it cannot do (bad scale, rates file, output directory)."""

    exit_code = 2


@dataclass(frozen=True)
class SourceRates:
    """One rate per source. CPIN is typed by caseworkers and is noisier than the ministry's OnSIS,
    whose names are validated against the OEN register; EQAO copies school records at test time."""

    cpin: float
    onsis: float
    eqao: float

    def for_source(self, source: str) -> float:
        """The rate for `source` (`cpin`, `onsis` or `eqao`)."""
        value: float = getattr(self, source)
        return value


def _doc(text: str, basis: str) -> dict[str, str]:
    return {"doc": text, "basis": basis}


@dataclass(frozen=True)
class ErrorRates:
    """Every identity-error rate of the generator. Frozen: a run's rates are fixed and recorded."""

    # --- names -------------------------------------------------------------------------------------
    given_name_typo: SourceRates = field(
        default=SourceRates(cpin=0.02, onsis=0.003, eqao=0.005),
        metadata=_doc(
            "Given name has one keyboard edit (substitution of a neighbouring key, deletion, insertion "
            "or transposition, in Damerau's 59/16/10/15 proportions). Per record.",
            "assumed; FEBRL/pseudopeople use ~1% per noise type",
        ),
    )
    given_name_nickname: SourceRates = field(
        default=SourceRates(cpin=0.10, onsis=0.01, eqao=0.03),
        metadata=_doc(
            "Given name replaced by a short form or nickname (William -> Will, Marie-Ève -> Marie). "
            "Among records whose given name has one in the nickname table.",
            "reference [inference]: first-name variant/nickname 3-5%; CPIN higher (known-as names)",
        ),
    )
    given_name_accent_dropped: SourceRates = field(
        default=SourceRates(cpin=0.25, onsis=0.02, eqao=0.10),
        metadata=_doc(
            "Accents removed from the given name (Hélène -> Helene). Among records whose given name "
            "has a non-ASCII letter.",
            "assumed",
        ),
    )
    family_name_typo: SourceRates = field(
        default=SourceRates(cpin=0.02, onsis=0.003, eqao=0.005),
        metadata=_doc("Family name has one keyboard edit, as for the given name. Per record.", "assumed"),
    )
    family_name_accent_dropped: SourceRates = field(
        default=SourceRates(cpin=0.25, onsis=0.02, eqao=0.10),
        metadata=_doc(
            "Accents removed from the family name (Bélanger -> Belanger). Among records whose family "
            "name has a non-ASCII letter.",
            "assumed",
        ),
    )
    family_name_compound_variant: SourceRates = field(
        default=SourceRates(cpin=0.20, onsis=0.03, eqao=0.05),
        metadata=_doc(
            "A compound family name written another way: one part only, hyphen <-> space, joined, "
            "particle or apostrophe dropped (Bélanger-Côté -> Côté, De Luca -> DeLuca, O'Brien -> "
            "OBrien). Among records whose family name has a hyphen, space or apostrophe.",
            "assumed",
        ),
    )
    name_swap: SourceRates = field(
        default=SourceRates(cpin=0.01, onsis=0.001, eqao=0.003),
        metadata=_doc(
            "Given and family names exchanged. Per record. Drawn first: a swapped record gets no "
            "other name variant, so the name-variant rates above are among records not swapped.",
            "reference [inference]: first/last swap 0.5-1%",
        ),
    )
    # --- date of birth -----------------------------------------------------------------------------
    birth_date_day_month_swap: SourceRates = field(
        default=SourceRates(cpin=0.01, onsis=0.001, eqao=0.003),
        metadata=_doc(
            "Day and month of the birth date exchanged. Among records whose day is 12 or less and "
            "differs from the month (otherwise the swap is invisible or not a date).",
            "reference [inference]: DOB day/month swap 0.5-1%",
        ),
    )
    birth_date_typo: SourceRates = field(
        default=SourceRates(cpin=0.01, onsis=0.001, eqao=0.002),
        metadata=_doc(
            "One part of the birth date is wrong but the date stays valid: day off by 1-3 (half), "
            "month off by one (a quarter) or year off by one (a quarter). Per record.",
            "reference [inference]: DOB typo 0.5%",
        ),
    )
    birth_date_missing: SourceRates = field(
        default=SourceRates(cpin=0.005, onsis=0.0, eqao=0.0),
        metadata=_doc("Birth date empty. Per record.", "assumed; Hagger-Johnson 2017: 0.11% DOB/sex wrong"),
    )
    # --- postal code -------------------------------------------------------------------------------
    postal_code_missing: SourceRates = field(
        default=SourceRates(cpin=0.05, onsis=0.002, eqao=0.0),
        metadata=_doc(
            "Postal code empty (no fixed address, not collected). Per record. EQAO has no postal "
            "code column, so its value is unused.",
            "assumed",
        ),
    )
    postal_code_unspaced: SourceRates = field(
        default=SourceRates(cpin=0.30, onsis=0.0, eqao=0.0),
        metadata=_doc(
            "Postal code written without its space (K1A0B1). A format variation the contract allows, "
            "not an error; listed so linkage standardisation is exercised. Per record.",
            "reference: about half of Faker's codes have no space; assumed 30% for CPIN",
        ),
    )
    # --- OEN ---------------------------------------------------------------------------------------
    oen_missing: SourceRates = field(
        default=SourceRates(cpin=0.60, onsis=0.0, eqao=0.002),
        metadata=_doc(
            "OEN empty although the person has one. Among records of persons who hold an OEN (infants "
            "and children never enrolled in Ontario have none, and their CPIN OEN is always empty).",
            "reference [inference]: OEN missing in CPIN for most records",
        ),
    )
    oen_invalid: SourceRates = field(
        default=SourceRates(cpin=0.04, onsis=0.0, eqao=0.003),
        metadata=_doc(
            "OEN present but invalid: one digit wrong or two adjacent digits exchanged (fails the "
            "stand-in check digit), or a digit dropped or added (fails the 9-digit format). Among "
            "records whose OEN is present.",
            "reference [inference]: OEN typo 0.2-0.5% where present; CPIN higher (assumed)",
        ),
    )
    oen_other_person: SourceRates = field(
        default=SourceRates(cpin=0.005, onsis=0.0, eqao=0.0),
        metadata=_doc(
            "OEN present and valid but another person's (a sibling's file). Among records whose OEN "
            "is present and not invalid.",
            "assumed",
        ),
    )
    # --- events and person-level rates --------------------------------------------------------------
    annual_move: float = field(
        default=0.10,
        metadata=_doc(
            "Probability that a student's family moves (new postal code) between two school years.",
            "assumed; Hagger-Johnson 2017: postcode differs in 53% of true matches, mostly moves",
        ),
    )
    annual_move_cpin: float = field(
        default=0.30,
        metadata=_doc(
            "The same for children known to child welfare, whose families move more often.",
            "reference [inference]: child-welfare families move often",
        ),
    )
    move_leaves_region: float = field(
        default=0.20,
        metadata=_doc(
            "Share of moves that leave the region (new board, new society); the rest stay in it.",
            "assumed",
        ),
    )
    placement_address: float = field(
        default=0.50,
        metadata=_doc(
            "Share of CPIN in-care episodes in a placement (foster, kin, group, adoption probation, "
            "independent living) whose POSTAL_CODE is the placement's, not the family home's.",
            "assumed",
        ),
    )
    adoption_surname_change: float = field(
        default=0.70,
        metadata=_doc(
            "Share of adoptions out of care after which the child's family name changes in OnSIS and "
            "EQAO from the next school year (CPIN keeps the birth name).",
            "assumed; reference: surname change 10-20% for children adopted or in ESC",
        ),
    )
    surname_change: float = field(
        default=0.01,
        metadata=_doc(
            "Share of other persons whose family name changes during the window (parents marry, "
            "custody, a hyphenated name added), from some school year on.",
            "reference [inference]: surname change 1-3% per child over the window",
        ),
    )
    cpin_second_person_id: float = field(
        default=0.05,
        metadata=_doc(
            "Share of CPIN children with two or more episodes who were registered again under a new "
            "PERSON_ID from some episode on (the duplicate-client problem).",
            "assumed",
        ),
    )
    twin_share: float = field(
        default=0.03,
        metadata=_doc(
            "Share of persons who are one of a twin pair: same family name, birth date, address and "
            "school, different given name and OEN. Hard non-matches.",
            "about 1.5% of births are twin pairs (general knowledge, assumed)",
        ),
    )
    namesake_share: float = field(
        default=0.005,
        metadata=_doc(
            "Share of persons given exactly the given and family name of another person of the same "
            "sex born the same year, on top of the collisions frequency-weighted names already make.",
            "assumed",
        ),
    )

    @classmethod
    def field_docs(cls) -> dict[str, dict[str, str]]:
        """Name -> {doc, basis} for every rate: the single source for the CLI help and the docs test."""
        return {f.name: dict(f.metadata) for f in dataclasses.fields(cls)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping, the same shape `from_mapping` reads."""
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ErrorRates:
        """Defaults overridden by `data`; a per-source rate may be one number (all sources) or a
        mapping with some of `cpin`, `onsis`, `eqao`. Every problem is reported at once."""
        problems: list[str] = []
        defaults = cls()
        values: dict[str, Any] = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                problems.append(f"unknown rate '{key}'")
        for name in known:
            current = getattr(defaults, name)
            if name not in data:
                values[name] = current
                continue
            raw = data[name]
            if isinstance(current, SourceRates):
                parsed = _parse_source_rates(name, raw, current, problems)
                values[name] = parsed
            else:
                values[name] = _parse_rate(name, raw, problems)
        rates = cls(**values)
        problems.extend(rates.problems())
        if problems:
            raise SynthError("Invalid rates: " + "; ".join(problems) + ".")
        return rates

    def validate(self) -> None:
        """Refuse rates outside [0, 1] and exclusive groups whose rates add up to more than 1."""
        problems = self.problems()
        if problems:
            raise SynthError("Invalid rates: " + "; ".join(problems) + ".")

    def problems(self) -> list[str]:
        """Every reason these rates cannot be used (empty when they can)."""
        problems: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            parts = (
                [(f"{f.name}.{s}", value.for_source(s)) for s in SOURCES]
                if isinstance(value, SourceRates)
                else [(f.name, value)]
            )
            for label, number in parts:
                if not 0.0 <= number <= 1.0:
                    problems.append(f"{label} must be between 0 and 1")
        groups = {
            "given-name variants": ("given_name_typo", "given_name_nickname", "given_name_accent_dropped"),
            "family-name variants": (
                "family_name_typo",
                "family_name_accent_dropped",
                "family_name_compound_variant",
            ),
            "birth-date errors": ("birth_date_missing", "birth_date_day_month_swap", "birth_date_typo"),
        }
        for label, names in groups.items():
            for source in SOURCES:
                total = sum(getattr(self, n).for_source(source) for n in names)
                if total > 1.0:
                    problems.append(f"{label} for {source} add up to {total:.3f} (more than 1)")
        return problems


def _parse_rate(name: str, raw: object, problems: list[str]) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(f"{name} must be a number")
        return 0.0
    return float(raw)


def _parse_source_rates(name: str, raw: object, current: SourceRates, problems: list[str]) -> SourceRates:
    if isinstance(raw, Mapping):
        unknown = [str(k) for k in raw if k not in SOURCES]
        if unknown:
            problems.append(f"{name} has unknown source(s) {', '.join(unknown)} (use cpin, onsis, eqao)")
        parts = {s: _parse_rate(f"{name}.{s}", raw[s], problems) if s in raw else current.for_source(s)
                 for s in SOURCES}
        return SourceRates(**parts)
    value = _parse_rate(name, raw, problems)
    return SourceRates(cpin=value, onsis=value, eqao=value)


def load_rates(path: Path) -> ErrorRates:
    """Read a YAML (or JSON) rates file: a mapping of rate name to value, defaults for the rest."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SynthError(f"Cannot read the rates file {path}: {err.strerror}.") from err
    except yaml.YAMLError as err:
        raise SynthError(f"The rates file {path} is not valid YAML; fix its syntax.") from err
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SynthError(f"The rates file {path} must be a mapping of rate name to value.")
    return ErrorRates.from_mapping(data)

"""Spotting personal information a delivery carries that no agreement covers (R11, collection limitation).

Dropping an undeclared column before storage keeps it out of the zones, but receiving it at all is
an over-collection the unit must record and take up with the source: a health number or a SIN in an
extract is an incident, not a column to ignore. Forbidden columns are matched by name, but sources
rename columns, so undeclared columns are also checked by what their name suggests (fuzzy: separators,
case and word order ignored) and by what their values look like on a sample (formats with their
check digits, which random identifiers rarely pass). Findings name the column and why, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_NAME_HINTS: dict[str, tuple[str, ...]] = {
    "a health card number": ("healthcard", "healthnumber", "healthinsurance", "healthno", "ohip", "hcn", "phn",
                             "medicare", "ramq", "cartesante", "assurancemaladie"),
    "a social insurance number": ("sin", "socialinsurance", "assurancesociale", "nas", "ssn", "socialsecurity"),
    "a passport number": ("passport", "passeport"),
    "a driver's licence number": ("driverslicen", "driverlicen", "drivinglicen", "licencenumber", "licensenumber",
                                  "permisdeconduire"),
    "an immigration or citizenship number": ("immigration", "citizenship", "prcard", "permanentresident", "uci"),
    "a bank or card number": ("bankaccount", "creditcard", "debitcard", "accountnumber", "transitnumber", "iban"),
}  # fmt: skip
_SHORT = 4
"""Hints this short must be a whole word of the column name ("SIN", not "SINGLE_PARENT")."""

SAMPLE_SIZE = 1000
_MIN_MATCHES = 5
_SHARE = 0.8
"""A column is suspect when this share of its non-empty sampled values fits a format with its check digit;
a random 9- or 10-digit identifier passes a mod-10 check one time in ten."""


@dataclass(frozen=True)
class Finding:
    column: str
    why: str

    def __str__(self) -> str:
        return f"{self.column} ({self.why})"


def _words(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column.replace("'", ""))
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # OHIPNumber: OHIP Number
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def suspect_by_name(column: str) -> str | None:
    """What the column's name suggests it holds, if that is an identifier no agreement here covers."""
    words = _words(column)
    compact = "".join(words)
    for what, hints in _NAME_HINTS.items():
        for hint in hints:
            if (hint in words) if len(hint) <= _SHORT else (hint in compact):
                return what
    return None


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_sin(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return len(digits) == 9 and digits.isdigit() and digits[0] not in "08" and _luhn(digits)


def _is_health_number(value: str) -> bool:
    """Ontario's health number: 10 digits with a mod-10 check digit, maybe a 1-2 letter version code."""
    match = re.fullmatch(r"(\d{4})[ -]?(\d{3})[ -]?(\d{3})[ -]?([A-Za-z]{0,2})", value.strip())
    return match is not None and _luhn("".join(match.groups()[:3]))


_VALUE_FORMATS = (("values look like social insurance numbers", _is_sin),
                  ("values look like health card numbers", _is_health_number))  # fmt: skip


def suspect_by_values(values: Iterable[str]) -> str | None:
    """Why a sample of a column's values looks like a protected identifier, or None."""
    sample = [v.strip() for v in values if v is not None and v.strip()]
    for why, fits in _VALUE_FORMATS:
        hits = sum(1 for v in sample if fits(v))
        if hits >= min(_MIN_MATCHES, len(sample)) and hits >= _SHARE * len(sample) and hits:
            return why
    return None


def find_overcollection(
    forbidden: Iterable[str], undeclared: Iterable[str], samples: Mapping[str, list[str]]
) -> list[Finding]:
    """Every column a delivery should not have carried: listed as forbidden, or suspect by name or values."""
    findings = [Finding(column, "listed in the spec's forbidden_columns") for column in forbidden]
    for column in undeclared:
        why = suspect_by_name(column)
        if why is not None:
            findings.append(Finding(column, f"its name suggests {why}"))
            continue
        by_values = suspect_by_values(samples.get(column, []))
        if by_values is not None:
            findings.append(Finding(column, f"{by_values} in a sample"))
    return findings

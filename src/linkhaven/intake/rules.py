"""Row checks compiled from the spec into DuckDB SQL.

Each check is a SQL predicate that is true when a row FAILS, with a reason code and the field it
concerns. Checks are evaluated in declaration order and a row's primary reason is its first
failure, so the register's counts by reason add up to the rows quarantined. No check ever puts a
value into a message: the reason code and the field name are enough for the steward, who can see
the values through `quarantine export`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linkhaven.derivations.identifiers import identifier_rule
from linkhaven.sqlquote import lit, q

if TYPE_CHECKING:
    from linkhaven.spec import ProjectSpec


@dataclass(frozen=True)
class FieldRule:
    """What intake needs to know of one declared field, independent of the spec's YAML shape."""

    name: str
    column: str
    type: str
    data_class: str
    role: str
    required: bool = False
    date_format: str | None = None
    codes: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    check: str | None = None
    invalid: str = "quarantine"
    """`quarantine` the row, or `set_null` to drop just the bad value of an optional field."""

    @property
    def raw(self) -> str:
        return f"NULLIF(trim({q(self.column)}), '')"

    def normalised(self) -> str:
        """The text value after the harmless normalisation its named check declares (separators, case, spaces)."""
        if self.check is not None:
            return identifier_rule(self.check).normalised(self.raw)
        return self.raw

    def typed(self) -> str:
        """The SQL expression of the typed value (NULL where it does not parse)."""
        value = self.normalised()
        if self.type == "date":
            return f"CAST(try_strptime({value}, {lit(self.date_format or '%Y-%m-%d')}) AS DATE)"
        if self.type == "integer":
            return f"TRY_CAST({value} AS BIGINT)"
        if self.type == "decimal":
            return f"TRY_CAST({value} AS DOUBLE)"
        return value

    def failures(self, check_digits: str) -> list[tuple[str, str]]:
        """(reason, failing predicate) pairs, in order."""
        value, typed = self.normalised(), self.typed()
        out: list[tuple[str, str]] = []
        if self.required:
            out.append(("missing_value", f"{self.raw} IS NULL"))
        if self.type == "date":
            out.append(("malformed_date", f"{value} IS NOT NULL AND {typed} IS NULL"))
        elif self.type in {"integer", "decimal"}:
            out.append(("invalid_number", f"{value} IS NOT NULL AND {typed} IS NULL"))
        if self.codes:
            listed = ", ".join(lit(c) for c in self.codes)
            out.append(("invalid_code", f"{value} IS NOT NULL AND {value} NOT IN ({listed})"))
        if self.minimum is not None and self.type in {"integer", "decimal"}:
            out.append(("out_of_range", f"{typed} < {float(self.minimum)!r}"))
        if self.maximum is not None and self.type in {"integer", "decimal"}:
            out.append(("out_of_range", f"{typed} > {float(self.maximum)!r}"))
        if self.check is not None:
            # A named rule (linkhaven.derivations): its format, then its check digit where the spec turns
            # checks on (`identifiers.check_digits`; some official check rules are not public).
            rule = identifier_rule(self.check)
            out.append((rule.reason, f"{value} IS NOT NULL AND NOT {rule.valid(value)}"))
            if check_digits == rule.check_digit:
                out.append((f"{rule.reason}_check_digit", f"{value} IS NOT NULL AND NOT {rule.valid(value, True)}"))
        return out


@dataclass(frozen=True)
class WindowRule:
    """Rows outside the population or the notice's window are not retained (R12)."""

    reason: str
    field: str
    predicate: str


@dataclass
class SourceRules:
    source: str
    fields: list[FieldRule]
    record_id: str
    forbidden_columns: list[str]
    windows: list[WindowRule] = field(default_factory=list)
    check_digits: str = "none"
    required_assessments: tuple[str, ...] = ()

    def by_column(self) -> dict[str, FieldRule]:
        return {f.column.strip().lower(): f for f in self.fields}


def rules_for(spec: ProjectSpec, source_name: str) -> SourceRules:
    """Compile a source's declared fields, period and population into intake's checks."""
    source = spec.source(source_name)
    fields = [
        FieldRule(
            name=f.name,
            column=f.column,
            type=str(f.type),
            data_class=str(f.data_class),
            role=str(f.role),
            required=f.required,
            date_format=f.date_format,
            codes=tuple(sorted(spec.codes_for(f) or ())),
            minimum=f.min,
            maximum=f.max,
            check=None if f.check is None else str(f.check),
            invalid=str(f.invalid),
        )
        for f in source.fields
    ]
    by_name = {f.name: f for f in fields}
    windows: list[WindowRule] = []
    start, end = spec.window.start_date.isoformat(), spec.window.end_date.isoformat()
    reference = None
    period = source.period
    if period is not None and period.school_year is not None:
        years = ", ".join(lit(y) for y in spec.window.school_years)
        value = by_name[period.school_year].normalised()
        windows.append(
            WindowRule("outside_window", period.school_year, f"{value} IS NOT NULL AND {value} NOT IN ({years})")
        )
        reference = f"make_date(CAST(left({value}, 4) AS INTEGER), 9, 1)"
    if period is not None and period.start is not None:
        begins = by_name[period.start].typed()
        ends = by_name[period.end].typed() if period.end is not None else "NULL"
        windows.append(
            WindowRule(
                "outside_window",
                period.start,
                f"{begins} > DATE {lit(end)} OR coalesce({ends}, DATE {lit(end)}) < DATE {lit(start)}",
            )
        )
        if period.end is not None:
            windows.append(WindowRule("end_before_start", period.end, f"{ends} < {begins}"))
        reference = f"greatest({begins}, DATE {lit(start)})"
    age = source.population_age
    if age is not None:
        born = by_name[age.birth_date].typed()
        on = reference or f"DATE {lit(start)}"
        age_then = f"date_sub('year', {born}, {on})"  # whole years, as ages are counted
        windows.append(
            WindowRule(
                "outside_population",
                age.birth_date,
                f"{born} IS NOT NULL AND NOT ({age_then} BETWEEN {age.min} AND {age.max})",
            )
        )
    return SourceRules(
        source=source_name,
        fields=fields,
        record_id=source.record_id,
        forbidden_columns=list(source.forbidden_columns),
        windows=windows,
        check_digits=str(spec.identifiers.check_digits),
        required_assessments=tuple(str(a) for a in spec.assessments_required),
    )

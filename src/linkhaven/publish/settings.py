"""The protection a publication applies, resolved from the spec: thresholds, rounding, indicators.

`Settings` is what `protect` and the files need; it is recorded with each publication in the
register, so a publication can be re-audited later with the rules it was made under.
"""

from __future__ import annotations

from dataclasses import dataclass

from linkhaven.errors import GateRefused, LinkhavenError
from linkhaven.publish.suppress import Rules
from linkhaven.spec.indicators import IndicatorSet
from linkhaven.spec.project import ProjectSpec


class PublicationRefused(GateRefused):
    """The attacker audit (or the ledger) refused the publication; nothing was written or registered."""


@dataclass
class Settings:
    """The protection a publication applies, resolved from the spec's thresholds and indicators."""

    min_cell_size: int
    protection_level: int
    rounding_base: int | None
    full_cells: bool = True
    secondary: bool = True
    """Only tests switch this off, to show the gate refusing an unprotected table."""

    @classmethod
    def from_spec(cls, spec: ProjectSpec) -> Settings:
        indicators = _indicators(spec)
        protection = indicators.protection
        minimum = max(spec.thresholds.min_cell_size, protection.min_cell_size or 0)
        return cls(
            min_cell_size=minimum,
            protection_level=protection.protection_level or minimum,
            rounding_base=spec.thresholds.rounding_base if protection.rounding == "nearest" else None,
            full_cells=protection.full_cells == "suppress",
        )

    @property
    def rules(self) -> Rules:
        return Rules(self.min_cell_size, self.protection_level, self.full_cells)


def _indicators(spec: ProjectSpec) -> IndicatorSet:
    if spec.indicators is None:
        raise LinkhavenError(
            "The project spec declares no indicators; add an `indicators:` section (docs/publication.md)."
        )
    return spec.indicators


def code_lists_of(spec: ProjectSpec) -> dict[str, list[str]]:
    return {name: list(codes) for name, codes in spec.code_lists.items()}


def code_names_of(spec: ProjectSpec) -> dict[str, dict[str, str]]:
    return {
        name: {code: (entry.name or code) for code, entry in codes.items()} for name, codes in spec.code_lists.items()
    }



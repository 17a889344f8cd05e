"""What a linkage run needs to know besides the data: thresholds, sources, resource limits.

Built from the project spec (`LinkConfig.from_spec`), so another unit with other sources writes
another spec, not other code. The defaults are the Ontario project's: OnSIS is the spine (every
enrolled student, keyed by a validated OEN); EQAO and CPIN are linked to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linkhaven.spec import ProjectSpec


@dataclass(frozen=True)
class LinkConfig:
    accept_probability: float = 0.95
    """At or above: linked without review (spec `linkage.accept_probability`)."""
    review_lower_probability: float = 0.50
    """From here up to `accept_probability`: clerical review; below: not linked."""
    spine: str = "onsis"
    """The source whose persons every other source is linked to; deduplicated by OEN first."""
    linked: tuple[str, ...] = ("eqao", "cpin")
    """The sources linked to the spine, each with its own Splink model."""
    seed: int = 20261124
    """Seeds u sampling and the training sample, so a rerun on the same data gives the same model."""
    threads: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 2, 8)))
    memory_limit: str = "4GB"
    """DuckDB's own limit; it spills to the private scratch directory beyond it."""
    u_max_pairs: float = 1.5e6
    """Pairs sampled at random to estimate u per comparison. Scoring runs at about 0.4M pairs per
    second per comparison on two cores, so this bounds u training at a few seconds a comparison;
    the rarest estimated level (birth date exact, u about 1e-4) is still seen a hundred times."""
    label_sample: int = 30_000
    """Deterministically linked records of a source used as training labels for its model's m."""
    min_labels: int = 30
    """Below this many labelled records the m parameters come from EM instead of the labels."""
    em_max_pairs: float = 2e6
    """Cap on EM training pairs (the costliest step uncapped, with no accuracy gain)."""
    gender_codes: dict[str, str] = field(
        default_factory=lambda: {"F": "F", "M": "M", "girl_woman": "F", "boy_man": "M"}
    )
    """Content `gender` codes of every source mapped to one scale for the gender comparison. Codes
    not listed compare as missing: OnSIS's X and CPIN's non-binary, two-spirit and not-disclosed
    identities are not the same notion in the two systems, so their disagreement is no evidence."""
    max_share_in_spine: float = 0.9
    """Cap on the share of a source's records assumed to have a spine person, in the record-level
    probability (`engine` step 4): keeps "not in the spine" a live alternative even for EQAO."""
    blocking_miss_mass: float = 0.01
    """Share of true matches assumed to fall outside every blocking rule (never scored)."""
    code_attributes: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    """Code list attributes used for subgroups in the report (society -> indigenous, region)."""

    @classmethod
    def from_spec(cls, spec: ProjectSpec) -> LinkConfig:
        sources = tuple(spec.sources)
        spine = "onsis" if "onsis" in sources else sources[0]
        linked: tuple[str, ...] = tuple(s for s in ("eqao", "cpin") if s in sources and s != spine) or tuple(
            s for s in sources if s != spine
        )
        attributes: dict[str, dict[str, dict[str, object]]] = {
            name: {code: {k: v for k, v in entry.attributes.items()} for code, entry in codes.items()}
            for name, codes in spec.code_lists.items()
            if name in {"society", "board"}
        }
        return cls(
            accept_probability=spec.linkage.accept_probability,
            review_lower_probability=spec.linkage.review_lower_probability,
            spine=spine,
            linked=linked,
            code_attributes=attributes,
        )

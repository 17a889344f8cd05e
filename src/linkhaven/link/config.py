"""The frozen settings a linkage run uses: the spec's `linkage:` section compiled, plus resource limits.

Built from the project spec (`LinkConfig.from_spec`), so another unit with other sources writes
another spec, not other code: which sources are linked to which, the identity fields and their
kinds, comparisons, blocking rules and deterministic rules all come from the declaration
(`linkhaven.spec.linkage`). Each run saves `as_json()` next to its Splink models, so what a run
did can be read back and rerun as Splink's own model JSON can.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from linkhaven.spec.linkage import (
    Assignment,
    FieldInPeriod,
    IdentityField,
    Kind,
    Link,
    Linkage,
    kind_columns,
    rule_columns,
)

if TYPE_CHECKING:
    from linkhaven.spec import ProjectSpec

VARIANT_KINDS = frozenset({Kind.GIVEN_NAME, Kind.FAMILY_NAME, Kind.MIDDLE_NAME, Kind.DATE, Kind.ADDRESS})
"""Kinds that spell a person's identity: a target person's distinct combinations of them are its
variants, each compared on its own (a typo in one year, a new family name from some year on);
the other kinds (postcodes, codes, identifiers) are gathered over all the person's records."""


@dataclass(frozen=True)
class Binding:
    """Where a source carries one identity field: its field (and, for code_in_period, the period)."""

    identity: str
    kind: Kind
    field: str
    period: str | None = None


@dataclass(frozen=True)
class LinkConfig:
    linkage: Linkage
    """The validated declaration (frozen pydantic model)."""
    record_ids: dict[str, str] = field(default_factory=dict)
    """Each source's record id field, as intake names it in the identity zone."""
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
    max_share_in_spine: float = 0.9
    """Cap on the share of a source's records assumed to have a person in the target, in the
    record-level probability: keeps "not in the target" a live alternative."""
    blocking_miss_mass: float = 0.01
    """Share of true matches assumed to fall outside every blocking rule (never scored)."""
    code_attributes: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    """Code list attributes used for subgroups in the report (society -> indigenous, region)."""

    @classmethod
    def from_spec(cls, spec: ProjectSpec, **overrides: Any) -> LinkConfig:
        attributes: dict[str, dict[str, dict[str, object]]] = {
            name: {code: dict(entry.attributes.items()) for code, entry in codes.items()}
            for name, codes in spec.code_lists.items()
            if name in {"society", "board"}
        }
        record_ids = {name: source.record_id for name, source in spec.sources.items() if name in spec.linkage.sources}
        return cls(linkage=spec.linkage, record_ids=record_ids, code_attributes=attributes, **overrides)

    # -- what the declaration says, in the shapes the steps need ------------------------------------
    @property
    def accept_probability(self) -> float:
        return self.linkage.accept_probability

    @property
    def review_lower_probability(self) -> float:
        return self.linkage.review_lower_probability

    @property
    def spine(self) -> str | None:
        return self.linkage.spine

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.linkage.sources)

    @property
    def links(self) -> tuple[Link, ...]:
        return self.linkage.links

    @property
    def linked(self) -> tuple[str, ...]:
        """Sources linked to another source, in declaration order."""
        return tuple(link.source for link in self.linkage.links)

    def link_of(self, source: str) -> Link:
        return next(link for link in self.linkage.links if link.source == source)

    @property
    def targets(self) -> tuple[str, ...]:
        """Sources other sources are linked to: each becomes a table of persons to link against."""
        return tuple(dict.fromkeys(link.to for link in self.linkage.links))

    @property
    def probabilistic_dedupes(self) -> tuple[str, ...]:
        return tuple(d.source for d in self.linkage.dedupe if d.by == "probabilistic")

    def dedupe_identifier(self, source: str) -> str | None:
        """The identifier a source's records are grouped into persons by, if declared."""
        return next((d.identifier for d in self.linkage.dedupe if d.source == source and d.by == "identifier"), None)

    def field(self, identity: str) -> IdentityField:
        return self.linkage.fields[identity]

    def bindings(self, source: str) -> tuple[Binding, ...]:
        out = []
        for identity, where in self.linkage.sources[source].fields.items():
            kind = self.linkage.fields[identity].kind
            if isinstance(where, FieldInPeriod):
                out.append(Binding(identity, kind, where.field, where.period))
            else:
                out.append(Binding(identity, kind, where))
        return tuple(out)

    def identities(self, source: str) -> tuple[str, ...]:
        return tuple(self.linkage.sources[source].fields)

    def person_id(self, source: str) -> str | None:
        return self.linkage.sources[source].person_id

    def of_kind(self, kind: Kind) -> str | None:
        """The first identity field of a kind (name kinds have one each)."""
        return next((name for name, spec in self.linkage.fields.items() if spec.kind is kind), None)

    @property
    def date(self) -> str | None:
        """The date field that twin guards and corroboration read (the first declared)."""
        return self.of_kind(Kind.DATE)

    def columns(self, identity: str) -> tuple[str, ...]:
        spec = self.linkage.fields[identity]
        return kind_columns(identity, spec.kind, spec.prefixes)

    def rules_for(self, rules: tuple[str, ...], available: set[str]) -> list[str]:
        """The blocking rules whose every column is available on both sides."""
        return [rule for rule in rules if rule_columns(rule) <= available]

    def assignment(self, source: str) -> Assignment:
        return self.link_of(source).assignment

    def evaluation_pairs(self) -> list[tuple[str, str]]:
        """Every declared link and de-duplication, as the pairs `link evaluate` measures."""
        pairs = [(link.source, link.to) for link in self.linkage.links]
        pairs += [(link.source, link.source) for link in self.linkage.links if link.assignment is not Assignment.BEST]
        pairs += [(d.source, d.source) for d in self.linkage.dedupe]
        return list(dict.fromkeys(pairs))

    def as_json(self) -> str:
        """The settings as saved with each run: the declaration and every knob, sorted keys."""
        knobs = {
            "seed": self.seed,
            "u_max_pairs": self.u_max_pairs,
            "label_sample": self.label_sample,
            "min_labels": self.min_labels,
            "em_max_pairs": self.em_max_pairs,
            "max_share_in_spine": self.max_share_in_spine,
            "blocking_miss_mass": self.blocking_miss_mass,
        }
        document = {"linkage": self.linkage.model_dump(mode="json"), "record_ids": self.record_ids, "knobs": knobs}
        return json.dumps(document, sort_keys=True, indent=1)

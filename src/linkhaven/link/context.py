"""What the steps of one linkage run share: the DuckDB connection, the settings, and what the run
has found so far (counts, review pairs, models, charts, timings).

A plain record, not a class with behaviour: each step (`linkhaven.link.steps`) is a function of
it, so a reader follows the run step by step in `engine.link` rather than through one class.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from linkhaven.link.config import LinkConfig
from linkhaven.link.types import ReviewCandidate, SourceInput

log = logging.getLogger("linkhaven.link.engine")


@dataclass
class RunContext:
    con: duckdb.DuckDBPyConnection
    inputs: dict[str, SourceInput]
    config: LinkConfig
    scratch: Path
    stats: dict[str, Any] = field(default_factory=lambda: {"deterministic": {}, "models": {}})
    timings: dict[str, float] = field(default_factory=dict)
    review: list[ReviewCandidate] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocking: dict[str, list[str]] = field(default_factory=dict)
    peak_memory: dict[str, float] = field(default_factory=dict)
    carried: dict[str, set[str]] = field(default_factory=dict)
    """Identity fields each source carries with at least one value (set by the prepare step)."""
    progress: Callable[[str], None] | None = None
    """Told the name of each step as it ends (a service's job shows it, and may cancel there)."""
    _clock: float = field(default_factory=time.perf_counter)

    @property
    def sources(self) -> list[str]:
        """The declared sources that have an input in this run."""
        return [s for s in self.config.sources if s in self.inputs]

    @property
    def links(self) -> list[str]:
        return [s for s in self.config.linked if s in self.inputs and self.config.link_of(s).to in self.inputs]

    def sql(self, text: str) -> None:
        began = time.perf_counter()
        self.con.execute(text)
        log.debug("%.2f s: %s", time.perf_counter() - began, " ".join(text.split())[:90])

    def rows(self, text: str) -> list[tuple[Any, ...]]:
        began = time.perf_counter()
        found = self.con.execute(text).fetchall()
        log.debug("%.2f s: %s", time.perf_counter() - began, " ".join(text.split())[:90])
        return found

    def scalar(self, text: str) -> Any:
        row = self.con.execute(text).fetchone()
        return None if row is None else row[0]

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now
        self.peak_memory[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
        log.info("link: %s done in %.1f s (peak RSS so far %.2f GiB)", name, self.timings[name], self.peak_memory[name])
        if self.progress is not None:
            self.progress(name)

    def both_carry(self, source: str, target: str) -> set[str]:
        """Identity fields both sources carry with values: what a link between them can compare."""
        return self.carried.get(source, set()) & self.carried.get(target, set())

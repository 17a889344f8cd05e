"""Orchestration: `synthesize` builds everything in memory, `generate` writes it to a directory.

Each stage draws from its own random stream, derived from the seed and the stage's name, so a
change in one stage does not shift the others and the clean rows are the same with or without
`--inject-faults`. The same seed and scale always give the same bytes.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven import __version__
from linkhaven.synth import child_welfare
from linkhaven.synth.extract_cpin import build_cpin
from linkhaven.synth.extract_eqao import build_eqao
from linkhaven.synth.extract_onsis import build_onsis
from linkhaven.synth.faults import FAULT_FILES, ROW_FAULTS, VARIANT_ROWS, FaultReport, inject
from linkhaven.synth.identifiers import format_ids, scrambled_ids
from linkhaven.synth.names import name_tables
from linkhaven.synth.people import People
from linkhaven.synth.population import build_people
from linkhaven.synth.rates import ErrorRates, SynthError
from linkhaven.synth.reference import ORIGINS, school_year_label
from linkhaven.synth.world import build_world
from linkhaven.synth.writer import write_table, write_tables

log = logging.getLogger(__name__)

MAX_SCALE = 2.0
EXTRACT_FILES = (("cpin", "cpin.csv", "cp1252"), ("onsis", "onsis.csv", "utf-8"), ("eqao", "eqao.csv", "utf-8"))
STAGES = ("population", "child welfare", "homes and boards", "OnSIS", "EQAO", "CPIN", "ground truth", "writing")
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class SynthData:
    """A generated world in memory: the extracts (with hidden `_` truth columns) and the persons.

    `persons` is the ground truth of identities (what `persons.csv` holds); `person_ids` maps a
    person index (the `_person` column) to its `T…` id.
    """

    scale: float
    seed: int
    rates: ErrorRates
    people: People
    person_ids: pa.StringArray
    persons: pa.Table
    cpin: pa.Table
    onsis: pa.Table
    eqao: pa.Table

    def extract(self, source: str) -> pa.Table:
        """The table of `source` (`cpin`, `onsis` or `eqao`)."""
        table: pa.Table = getattr(self, source)
        return table


@dataclass
class SynthSummary:
    """What `generate` wrote: rows per file, persons per source, faults per file. JSON-ready."""

    out_dir: str
    scale: float
    seed: int
    inject_faults: bool
    files: dict[str, int]
    persons: int
    persons_by_source: dict[str, int]
    faults: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "out_dir": self.out_dir,
            "scale": self.scale,
            "seed": self.seed,
            "inject_faults": self.inject_faults,
            "files": self.files,
            "persons": self.persons,
            "persons_by_source": self.persons_by_source,
            "faults": self.faults,
            "seconds": round(self.seconds, 2),
        }


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """The random stream of one stage: PCG64 seeded from (seed, stage name)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(stage.encode())])))


def _check(scale: float, seed: int) -> None:
    if not 0 < scale <= MAX_SCALE:
        raise SynthError(f"Scale must be above 0 and at most {MAX_SCALE} (1 = the whole province); got {scale}.")
    if seed < 0:
        raise SynthError(f"Seed must be a non-negative integer; got {seed}.")


def synthesize(
    scale: float,
    seed: int,
    rates: ErrorRates | None = None,
    progress: ProgressCallback | None = None,
) -> SynthData:
    """Build the population and the three extracts in memory, without writing anything."""
    _check(scale, seed)
    rates = rates or ErrorRates()
    rates.validate()

    def step(name: str) -> None:
        log.info("synth: %s", name)
        if progress is not None:
            progress(name, STAGES.index(name), len(STAGES))

    step("population")
    people, careers = build_people(stage_rng(seed, "population"), scale, rates)
    step("child welfare")
    episodes = child_welfare.simulate(stage_rng(seed, "cpin-careers"), people, scale, rates)
    step("homes and boards")
    world = build_world(stage_rng(seed, "homes"), people, careers, scale, rates)
    step("OnSIS")
    onsis = build_onsis(stage_rng(seed, "onsis"), world, rates)
    step("EQAO")
    eqao = build_eqao(stage_rng(seed, "eqao"), world, rates)
    step("CPIN")
    cpin = build_cpin(stage_rng(seed, "cpin"), world, episodes, rates)
    step("ground truth")
    person_ids = format_ids(scrambled_ids(stage_rng(seed, "person-ids"), people.n, 9), "T", 9)
    appearing = np.zeros(people.n, dtype=bool)
    for table in (cpin, onsis, eqao):
        appearing[table.column("_person").to_numpy()] = True
    persons = _persons_table(people, person_ids, np.flatnonzero(appearing))
    return SynthData(scale, seed, rates, people, person_ids, persons, cpin, onsis, eqao)


def _persons_table(people: People, person_ids: pa.StringArray, index: np.ndarray[Any, Any]) -> pa.Table:
    """Ground-truth identities of everyone who appears in an extract (in person-id order)."""
    take = pa.array(index)
    vocab = pa.array(people.family_vocab, pa.string())
    given = pa.array(list(name_tables().given), pa.string())
    new_family = people.new_family[index]
    has_new = new_family >= 0
    change = people.change_year[index]
    birth = pa.array(people.birth[index], pa.date32()).cast(pa.string())

    def ref(other: np.ndarray[Any, Any]) -> pa.Array:
        return pc.if_else(pa.array(other >= 0), person_ids.take(pa.array(np.maximum(other, 0))),
                          pa.nulls(len(other), pa.string()))

    oen = people.oen[index]
    table = pa.table({
        "person_id": person_ids.take(take),
        "given_name": given.take(pa.array(people.given[index])),
        "family_name": vocab.take(pa.array(people.family[index])),
        "new_family_name": pc.if_else(pa.array(has_new), vocab.take(pa.array(np.maximum(new_family, 0))),
                                      pa.nulls(len(index), pa.string())),
        "name_change_year": pa.array([school_year_label(int(y)) if h else None
                                      for y, h in zip(change, has_new, strict=True)], pa.string()),
        "name_change_reason": pa.array(np.array(["", "adoption", "other"])[people.change_reason[index]],
                                       pa.string()),
        "birth_date": birth,
        "sex": pa.array(np.array(["F", "M"])[people.sex[index]], pa.string()),
        "oen": pc.if_else(pa.array(oen >= 0), pa.array(oen, pa.int64()).cast(pa.string()),
                          pa.nulls(len(index), pa.string())),
        "origin": pa.array(np.array(ORIGINS)[people.origin[index]], pa.string()),
        "twin_of": ref(people.twin_of[index]),
        "namesake_of": ref(people.namesake_of[index]),
        "_person": pa.array(index, pa.int64()),
    })
    return table.sort_by("person_id")


def _truth_parts(data: SynthData, extra: dict[str, list[tuple[str, int]]]) -> Iterator[pa.Table]:
    """truth.csv, source by source: every record id of every extract (and of the injected faulty
    rows) with its true person."""
    for source, _, _ in EXTRACT_FILES:
        table = data.extract(source)
        ids = table.column(table.column_names[0])
        person = table.column("_person")
        if extra.get(source):
            ids = pa.chunked_array(ids.chunks + [pa.array([r for r, _ in extra[source]], pa.string())])
            person = pa.chunked_array(person.chunks + [pa.array([p for _, p in extra[source]], person.type)])
        for lo in range(0, len(ids), 2_000_000):
            chunk_ids = ids.slice(lo, 2_000_000)
            yield pa.table({
                "source": pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(chunk_ids), dtype=np.int8)),
                                                         pa.array([source])),
                "record_id": chunk_ids,
                "person_id": data.person_ids.take(person.slice(lo, 2_000_000)),
            })


def generate(
    out_dir: Path,
    scale: float,
    seed: int,
    inject_faults: bool = False,
    rates: ErrorRates | None = None,
    progress: ProgressCallback | None = None,
) -> SynthSummary:
    """Write `cpin.csv`, `onsis.csv`, `eqao.csv`, `truth.csv`, `persons.csv` and `synth.json` into
    `out_dir` (and, with `inject_faults`, the faulty variants and `faults.json`)."""
    began = time.perf_counter()
    _check(scale, seed)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SynthError(f"{out_dir} exists and is not a directory; choose another --out.")
    out_dir.mkdir(parents=True, exist_ok=True)
    data = synthesize(scale, seed, rates, progress)
    if progress is not None:
        progress("writing", STAGES.index("writing"), len(STAGES))
    for name in FAULT_FILES:  # never leave a previous run's faults behind
        (out_dir / name).unlink(missing_ok=True)
    files: dict[str, int] = {}
    reports: list[FaultReport] = []
    extra: dict[str, list[tuple[str, int]]] = {}
    for source, name, encoding in EXTRACT_FILES:
        table = data.extract(source)
        if inject_faults:
            source_reports = inject(stage_rng(seed, f"faults-{source}"), out_dir, name, table, encoding)
            reports += source_reports
            extra[source] = source_reports[0].new_records
            files[name] = table.num_rows + len(source_reports[0].row_faults)
            for report in source_reports[1:]:
                files[report.file] = min(table.num_rows, VARIANT_ROWS)
        else:
            write_table(out_dir / name, table, encoding)
            files[name] = table.num_rows
    files["truth.csv"] = write_tables(out_dir / "truth.csv", _truth_parts(data, extra))
    write_table(out_dir / "persons.csv", data.persons)
    files["persons.csv"] = data.persons.num_rows
    persons_by_source = {
        source: int(pc.count_distinct(data.extract(source).column("_person")).as_py())
        for source, _, _ in EXTRACT_FILES
    }
    summary = SynthSummary(
        out_dir=str(out_dir),
        scale=scale,
        seed=seed,
        inject_faults=inject_faults,
        files=files,
        persons=data.persons.num_rows,
        persons_by_source=persons_by_source,
        faults={r.file: len(r.row_faults) + len(r.file_faults) for r in reports},
    )
    if inject_faults:
        payload = {
            "format": 1,
            "seed": seed,
            "scale": scale,
            "kinds": {
                "row": list(ROW_FAULTS),
                "file": ["undeclared_column", "forbidden_column", "wrong_encoding"],
            },
            "files": [r.as_dict() for r in reports],
        }
        (out_dir / "faults.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    params = {
        "generator": "linkhaven.synth",
        "version": __version__,
        "seed": seed,
        "scale": scale,
        "inject_faults": inject_faults,
        "files": files,
        "persons_by_source": persons_by_source,
        "rates": data.rates.as_dict(),
    }
    (out_dir / "synth.json").write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
    summary.seconds = time.perf_counter() - began
    return summary

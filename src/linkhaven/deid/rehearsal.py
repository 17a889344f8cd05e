"""Panel inputs straight from synthetic extracts, for tests and the scale benchmark.

`linkhaven synth` data carry the true person of every record (the hidden `_person` column). This
turns them into what de-identification reads in a workspace, without running intake and linkage:
content tables with the spec's canonical names and types (as intake types them), the two identity
values the panel generalises, and a linkage map whose person keys are the truth, with a share of links
marked probabilistic so the linkage columns carry something. Only for rehearsals: real releases
read the zones and the linkage stage's map.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.deid.panel import PanelInputs, PanelPlan, TableSource
from linkhaven.spec import FieldType
from linkhaven.synth import SynthData


def _typed(column: pa.ChunkedArray, kind: FieldType, date_format: str | None) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    if kind is FieldType.DATE:
        text = column.cast(pa.string())
        return pc.strptime(text, format=date_format or "%Y-%m-%d", unit="s", error_is_null=True).cast(pa.date32())
    if kind is FieldType.INTEGER:
        return column.cast(pa.int64())
    if kind is FieldType.DECIMAL:
        return column.cast(pa.float64())
    if kind is FieldType.CODE:
        return column.cast(pa.string())
    if kind is FieldType.STRING:
        text = column.cast(pa.string())
        return pc.utf8_upper(pc.replace_substring_regex(text, r"\s", ""))
    return column


def _prefixed(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def _codes(rng: np.random.Generator, n: int, source: str) -> pa.Array:
    """Unique record codes in random order (intake's are random UUIDs; only uniqueness matters here)."""
    return _prefixed(source, rng.permutation(n), 12)


def rehearsal_inputs(data: SynthData, plan: PanelPlan, seed: int = 1, probabilistic_share: float = 0.1) -> PanelInputs:
    """Content tables of the sources `plan` reads, the base identity values it generalises, a true map."""
    rng = np.random.default_rng(seed)
    spec = plan.spec
    content: dict[str, TableSource | None] = {}
    maps: list[pa.Table] = []
    identity: pa.Table | None = None
    for source in plan.reads:
        table = data.extract(source)
        fields = spec.source(source).fields
        codes = _codes(rng, table.num_rows, source)
        columns = {"record_code": codes}
        for field in fields:
            if not field.is_identity:
                columns[field.name] = _typed(table.column(field.column), field.type, field.date_format)
        content[source] = pa.table(columns)
        if source == plan.base:
            by_name = {f.name: f for f in fields}
            identity = pa.table(
                {"record_code": codes}
                | {
                    name: _typed(table.column(by_name[name].column), by_name[name].type, by_name[name].date_format)
                    for name in plan.identity_fields
                }
            )
        person = np.asarray(table.column("_person").to_numpy(), dtype=np.int64)
        linked_by_chance = rng.random(table.num_rows) < (0.0 if source == plan.base else probabilistic_share)
        probability = np.where(linked_by_chance, np.round(rng.uniform(0.95, 1.0, table.num_rows), 4), np.nan)
        maps.append(
            pa.table(
                {
                    "record_code": codes,
                    "source": pa.repeat(pa.scalar(source), table.num_rows),
                    "person_key": _prefixed("K", person, 9),
                    "method": pc.if_else(pa.array(linked_by_chance), "probabilistic", "deterministic"),
                    "match_probability": pa.array(probability, pa.float64(), from_pandas=True),
                }
            )
        )
    return PanelInputs(content, identity, pa.concat_tables(maps))

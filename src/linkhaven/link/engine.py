"""The linkage engine: pure functions of Arrow tables, no workspace, no metadata store.

The flow, each step a DuckDB statement over whole tables (no Python per row):

1. standardise every source's identity fields (`standardise.py`);
2. build the spine: deduplicate the spine source (OnSIS) by OEN, then check it: variants of one
   OEN that clearly disagree are counted, and distinct OENs carrying the same name, birth date and
   postal code are queued for clerical review as possible duplicate OENs;
3. deterministic pass: a record whose OEN is a spine OEN is linked when the two corroborate each
   other (`sql.corroborated`); when they clearly disagree the pair is flagged and never linked;
4. probabilistic pass: a Splink model per linked source against the spine's identity variants;
5. assignment: records of a source without a person id (EQAO) take their best spine person;
   a source with person ids (CPIN) is first clustered (its person id, plus its own duplicates
   found with the same model) and each cluster is then assigned one-to-one to the spine;
6. the linkage map: every record code gets a random person key, carried over from the previous
   map where the same records were together, with the method and probability of its link.

The result carries counts and rates for the report, and the models and charts, none of which
hold a personal value.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from linkhaven.link import model as splink_model
from linkhaven.link.config import LinkConfig
from linkhaven.link.sql import connect, corroborated, given_close, names_swapped, scalar
from linkhaven.link.standardise import dob_sql, name_table, postal_sql
from linkhaven.sqlquote import lit

log = logging.getLogger(__name__)

IDENTITY_COLUMNS = (
    "record_code", "source_record_id", "source_person_id", "oen", "given_name", "family_name", "birth_date",
    "postal_code",
)  # fmt: skip
NAME_SELECT = (
    "g.given_std, g.given_first, g.given_joined, g.given_tokens, g.given_groups, g.given_phon, "
    "f.family_std, f.family_joined, f.family_core, f.family_tokens, f.family_phon"
)
EMPTY_CONTENT = pa.table({"record_code": pa.array([], pa.string())})
REVIEW_IDENTITY_COLUMNS = (
    "record_code", "source", "source_record_id", "source_person_id", "oen", "given_name", "family_name",
    "birth_date", "postal_code",
)  # fmt: skip
METHODS = ("deterministic", "probabilistic", "clerical", "unlinked")
MAP_SCHEMA = pa.schema(
    [
        ("record_code", pa.string()),
        ("source", pa.string()),
        ("person_key", pa.string()),
        ("method", pa.string()),
        ("match_probability", pa.float64()),
    ]
)


TableOrLoader: TypeAlias = "pa.Table | Callable[[], pa.Table]"
CONTENT_USED = ("record_code", "school_year", "board_number", "gender", "society_code", "episode_start", "assessment")
"""Content fields linkage reads: board and year and gender as evidence, the rest for the report."""


@dataclass
class SourceInput:
    """One source's identity table (intake's identity-zone columns) and its content table.

    Either may be given as a loader (a function returning the table), which the engine calls once
    and lets go of as soon as DuckDB holds its own copy: a province's tables are then never all in
    Python memory at once, and DuckDB's copy can spill to the private scratch directory."""

    source: str
    identity: TableOrLoader
    content: TableOrLoader | None = None

    def identity_table(self) -> pa.Table:
        return self.identity if isinstance(self.identity, pa.Table) else self.identity()

    def content_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        if self.content is None:
            return EMPTY_CONTENT
        table = self.content if isinstance(self.content, pa.Table) else self.content()
        if columns is not None:
            table = table.select([c for c in table.column_names if c in columns])
        return table


@dataclass(frozen=True)
class ReviewCandidate:
    """A pair for clerical review: record codes, probability and why it is queued; no values."""

    kind: str
    left_code: str
    right_code: str
    match_probability: float | None
    match_weight: float | None
    queue_reason: str
    left_linked: bool = False
    """Whether the left record ended up linked to the spine by some other pass (an OEN conflict
    whose record the model linked elsewhere is then informative only)."""


@dataclass(frozen=True)
class Decision:
    """A clerical decision on a pair of record codes, carried into later runs and map versions."""

    left_code: str
    right_code: str
    decision: str
    probability: float | None = None


@dataclass
class EngineResult:
    map_path: Path
    """The linkage map as a Parquet file in the caller's scratch directory, written by DuckDB: a
    province's map (17 million rows) never has to be in Python memory; `map` reads it."""
    review: list[ReviewCandidate]
    stats: dict[str, Any]
    models: dict[str, dict[str, Any]]
    charts: dict[str, dict[str, Any]]
    blocking_rules: dict[str, list[str]]
    review_identity: pa.Table
    """Identity values of the records in review pairs (identity-zone data: the linker's eyes only)."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def map(self) -> pa.Table:
        """The map as an Arrow table (record_code, source, person_key, method, match_probability)."""
        return pq.read_table(self.map_path).cast(MAP_SCHEMA)


def link(
    inputs: dict[str, SourceInput],
    config: LinkConfig,
    scratch: Path,
    previous_map: TableOrLoader | None = None,
    decisions: Sequence[Decision] = (),
) -> EngineResult:
    """Link the sources in `inputs`; DuckDB spills only into `scratch`, which the caller deletes."""
    if config.spine not in inputs:
        raise ValueError(f"no input for the spine source {config.spine}")
    con = connect(scratch, config.threads, config.memory_limit)
    try:
        return _Run(con, inputs, config, scratch).run(previous_map, decisions)
    finally:
        con.close()


class _Run:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, inputs: dict[str, SourceInput], config: LinkConfig, scratch: Path
    ) -> None:
        self.con = con
        self.scratch = scratch
        self.inputs = inputs
        self.config = config
        self.linked = [s for s in config.linked if s in inputs]
        self.stats: dict[str, Any] = {"deterministic": {}, "models": {}}
        self.timings: dict[str, float] = {}
        self.review: list[ReviewCandidate] = []
        self.models: dict[str, dict[str, Any]] = {}
        self.charts: dict[str, dict[str, Any]] = {}
        self.blocking: dict[str, list[str]] = {}
        self.peak_memory: dict[str, float] = {}
        self._clock = time.perf_counter()

    # -- plumbing -------------------------------------------------------------------------------
    def sql(self, text: str) -> None:
        began = time.perf_counter()
        self.con.execute(text)
        log.debug("%.2f s: %s", time.perf_counter() - began, " ".join(text.split())[:90])

    def rows(self, text: str) -> list[tuple[Any, ...]]:
        began = time.perf_counter()
        found = self.con.execute(text).fetchall()
        log.debug("%.2f s: %s", time.perf_counter() - began, " ".join(text.split())[:90])
        return found

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now
        self.peak_memory[name] = _peak_rss_gib()
        log.info("link: %s done in %.1f s (peak RSS so far %.2f GiB)", name, self.timings[name], self.peak_memory[name])

    def run(self, previous_map: TableOrLoader | None, decisions: Sequence[Decision]) -> EngineResult:
        self.load()
        self.lap("load")
        self.standardise()
        self.lap("standardise")
        self.build_spine()
        self.lap("spine")
        for source in self.linked:
            self.deterministic(source)
        self.lap("deterministic")
        for source in self.linked:
            self.probabilistic(source)
            self.lap(f"probabilistic_{source}")
        for source in self.linked:
            if self.has_person_ids(source):
                self.assign_clusters(source)
            else:
                self.assign_records(source)
        self.lap("assign")
        self.build_map(previous_map, decisions)
        self.lap("map")
        self.collect_stats()
        self.lap("stats")
        self.stats["peak_rss_gib_after_step"] = self.peak_memory
        map_path = self.scratch / "link-map.parquet"
        self.sql(
            f"""COPY (SELECT record_code, source, person_key, method, match_probability FROM link_map)
            TO {lit(str(map_path))} (FORMAT parquet, COMPRESSION zstd)"""
        )
        review_identity = self.review_identity()
        linked = {r[0] for r in self.rows(
            "SELECT m.record_code FROM link_map m JOIN review_codes USING (record_code) WHERE m.method <> 'unlinked'"
        )}  # fmt: skip
        self.review = [dataclasses.replace(c, left_linked=c.left_code in linked) for c in self.review]
        return EngineResult(
            map_path=map_path,
            review=self.review,
            stats=self.stats,
            models=self.models,
            charts=self.charts,
            blocking_rules=self.blocking,
            review_identity=review_identity,
            timings=self.timings,
        )

    def review_identity(self) -> pa.Table:
        codes = sorted({c.left_code for c in self.review} | {c.right_code for c in self.review})
        self.con.register("review_codes", pa.table({"record_code": pa.array(codes, pa.string())}))
        parts = " UNION ALL ".join(
            f"SELECT i.record_code, {lit(source)} AS source, i.source_record_id, i.source_person_id, i.oen, "
            f"i.given_name, i.family_name, i.dob AS birth_date, i.postal AS postal_code "
            f"FROM std_{source} i JOIN review_codes USING (record_code)"
            for source in self.inputs
        )
        table = self.con.execute(parts).to_arrow_table()
        schema = pa.schema([(c, pa.date32() if c == "birth_date" else pa.string()) for c in REVIEW_IDENTITY_COLUMNS])
        return table.select(list(REVIEW_IDENTITY_COLUMNS)).cast(schema)

    # -- 1. inputs and standardisation ---------------------------------------------------------------
    def load(self) -> None:
        """Register each source's tables; identity columns a source does not carry (EQAO has no
        postal code, only CPIN a person id) are added as nulls, so every step sees one shape."""
        for source, given in self.inputs.items():
            identity = given.identity_table()
            present = set(identity.column_names)
            missing = [c for c in ("record_code", "source_record_id") if c not in present]
            if missing:
                raise ValueError(f"identity table of {source} lacks column(s) {', '.join(missing)}")
            self.con.register("arrow_in", identity)
            columns = ", ".join(
                c if c in present else f"NULL::{'DATE' if c == 'birth_date' else 'VARCHAR'} AS {c}"
                for c in IDENTITY_COLUMNS
            )
            self.sql(f"CREATE TABLE id_{source} AS SELECT {columns} FROM arrow_in")
            self.con.unregister("arrow_in")
            del identity
            self.con.register("arrow_in", given.content_table(CONTENT_USED))
            self.sql(f"CREATE TABLE ct_{source} AS SELECT * FROM arrow_in")
            self.con.unregister("arrow_in")

    def content_columns(self, source: str) -> set[str]:
        return {r[0] for r in self.rows(f"DESCRIBE ct_{source}")}

    def has_person_ids(self, source: str) -> bool:
        return bool(scalar(self.con, f"SELECT count(source_person_id) > 0 FROM std_{source}"))

    def standardise(self) -> None:
        union = " UNION ".join(
            f"SELECT given_name AS raw FROM id_{s} UNION SELECT family_name FROM id_{s}" for s in self.inputs
        )
        names = [r[0] for r in self.rows(f"SELECT DISTINCT raw FROM ({union}) WHERE raw IS NOT NULL")]
        self.con.register("name_std", name_table(names))
        self.stats["distinct_names"] = len(names)
        for source in self.inputs:
            board_year, gender, join = "NULL::VARCHAR", "NULL::VARCHAR", ""
            content = self.content_columns(source)
            if {"school_year", "board_number"} <= content:
                board_year = "c.school_year || '|' || c.board_number"
            if "gender" in content:
                cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in self.config.gender_codes.items())
                gender = f"CASE c.gender {cases} END" if cases else gender
            if board_year != "NULL::VARCHAR" or gender != "NULL::VARCHAR":
                join = f"LEFT JOIN ct_{source} c ON c.record_code = i.record_code"
            # Narrow per-record table: raw names stay keys into `name_std`; the standardised name
            # columns (lists among them) are joined in `stdn_*` where a step needs them, so the
            # millions of spine records never carry them.
            self.sql(
                f"""CREATE TABLE std_{source} AS
                SELECT *, strftime(dob, '%Y%m%d') AS dob_str, left(postal, 3) AS fsa FROM (
                  SELECT i.record_code, i.source_record_id, i.source_person_id,
                    CASE WHEN regexp_full_match(i.oen, '^[0-9]{{9}}$') THEN i.oen END AS oen,
                    i.given_name, i.family_name,
                    {dob_sql("i.birth_date")} AS dob, {postal_sql("i.postal_code")} AS postal,
                    {board_year} AS board_year, {gender} AS gender
                  FROM id_{source} i
                  {join})"""
            )
            # The raw identity copy is not needed again: std_ keeps every value review shows.
            self.sql(f"DROP TABLE id_{source}")
            self.sql(
                f"""CREATE VIEW stdn_{source} AS
                SELECT r.*, {NAME_SELECT}
                FROM std_{source} r
                LEFT JOIN name_std g ON g.raw = r.given_name
                LEFT JOIN name_std f ON f.raw = r.family_name"""
            )

    # -- 2. the spine ------------------------------------------------------------------------------------
    def build_spine(self) -> None:
        spine = self.config.spine
        self.sql(f"CREATE VIEW spine_rec AS SELECT *, coalesce(oen, 'X' || record_code) AS spine_id FROM std_{spine}")
        # One row per distinct spelling of an OEN's identity (a typo in one year, a new family
        # name from some year on): each is compared, and a person matches on its best variant.
        # Variant ids follow a record code, so the same data gives the same ids, hence the same
        # u sample (Splink samples by id hash), hence the same model and links on a rerun.
        self.sql(
            f"""CREATE TABLE spine_var AS
            SELECT 'v' || row_number() OVER (ORDER BY v.rep_code) AS unique_id, v.*, {NAME_SELECT} FROM (
              SELECT spine_id, given_name, family_name, dob, any_value(dob_str) AS dob_str,
                count(*) AS n_records, min(record_code) AS rep_code
              FROM spine_rec GROUP BY spine_id, given_name, family_name, dob) v
            LEFT JOIN name_std g ON g.raw = v.given_name
            LEFT JOIN name_std f ON f.raw = v.family_name"""
        )
        # Each list from its own narrow distinct pass: cheaper than list(DISTINCT ...) aggregates
        # over every enrolment row at once.
        self.sql(
            """CREATE TABLE spine_person AS
            WITH base AS (SELECT spine_id, count(*) AS n_records, max(gender) AS gender FROM spine_rec GROUP BY 1),
            postal AS (
              SELECT spine_id, list(postal) AS postals
              FROM (SELECT DISTINCT spine_id, postal FROM spine_rec WHERE postal IS NOT NULL) GROUP BY 1),
            board AS (
              SELECT spine_id, list(board_year) AS board_years
              FROM (SELECT DISTINCT spine_id, board_year FROM spine_rec WHERE board_year IS NOT NULL) GROUP BY 1)
            SELECT b.spine_id, b.n_records, p.postals,
              list_distinct(list_transform(p.postals, lambda x: left(x, 3))) AS fsas,
              list_distinct(list_transform(p.postals, lambda x: left(x, 1))) AS areas,
              b.gender, o.board_years
            FROM base b LEFT JOIN postal p USING (spine_id) LEFT JOIN board o USING (spine_id)"""
        )
        self.sql(
            """CREATE TABLE spine_cmp AS
            SELECT v.unique_id, v.spine_id, v.given_std, v.given_first, v.given_joined, v.given_tokens,
              v.given_groups, v.given_phon, v.family_std, v.family_joined, v.family_core, v.family_tokens,
              v.family_phon, v.dob, v.dob_str, p.postals, p.fsas, p.areas, p.gender, p.board_years
            FROM spine_var v JOIN spine_person p USING (spine_id)"""
        )
        records, persons, variants, without_oen = self.rows(
            "SELECT (SELECT count(*) FROM spine_rec), (SELECT count(*) FROM spine_person), "
            "(SELECT count(*) FROM spine_var), (SELECT count(*) FROM spine_rec WHERE oen IS NULL)"
        )[0]
        # Variants of one OEN that clearly disagree with the OEN's commonest variant: counted, kept.
        inconsistent = self.rows(
            f"""WITH modal AS (
              SELECT * FROM spine_var QUALIFY row_number() OVER (PARTITION BY spine_id ORDER BY n_records DESC,
                unique_id) = 1)
            SELECT count(*), coalesce(sum(v.n_records), 0) FROM spine_var v JOIN modal m USING (spine_id)
            WHERE v.unique_id <> m.unique_id AND NOT {corroborated("v", "m")}"""
        )[0]
        # Distinct OENs with the same name, birth date and postal code: possibly one child, two OENs.
        duplicates = self.rows(
            """WITH raw_keyed AS (
              SELECT given_name, family_name, dob, postal, spine_id, min(record_code) AS code FROM spine_rec
              WHERE oen IS NOT NULL AND dob IS NOT NULL AND postal IS NOT NULL
              GROUP BY ALL),
            keyed AS (
              SELECT g.given_std, f.family_joined, k.dob, k.postal, k.spine_id, min(k.code) AS code
              FROM raw_keyed k JOIN name_std g ON g.raw = k.given_name JOIN name_std f ON f.raw = k.family_name
              WHERE g.given_std IS NOT NULL AND f.family_joined IS NOT NULL GROUP BY ALL)
            SELECT a.code, b.code FROM keyed a JOIN keyed b USING (given_std, family_joined, dob, postal)
            WHERE a.spine_id < b.spine_id ORDER BY 1, 2"""
        )
        for left_code, right_code in duplicates:
            pair = f"{self.config.spine}~{self.config.spine}"
            self.review.append(ReviewCandidate(pair, left_code, right_code, None, None, "same_identity_two_oens"))
        self.stats["spine"] = {
            "source": self.config.spine,
            "records": records,
            "persons": persons,
            "identity_variants": variants,
            "records_without_oen": without_oen,
            "inconsistent_variants": inconsistent[0],
            "inconsistent_records": int(inconsistent[1]),
            "possible_duplicate_oens": len(duplicates),
        }

    # -- 3. deterministic pass ------------------------------------------------------------------------
    def deterministic(self, source: str) -> None:
        self.sql(
            f"""CREATE TABLE det_{source} AS
            SELECT r.record_code, v.spine_id, bool_or({corroborated("r", "v")}) AS ok,
              arg_max(v.unique_id, v.n_records) AS variant
            FROM stdn_{source} r JOIN spine_var v ON v.spine_id = r.oen
            GROUP BY r.record_code, v.spine_id"""
        )
        with_oen, linked, conflicts = self.rows(
            f"""SELECT (SELECT count(oen) FROM std_{source}), count(*) FILTER (WHERE ok),
                count(*) FILTER (WHERE NOT ok) FROM det_{source}"""
        )[0]
        self.stats["deterministic"][source] = {
            "records_with_oen": with_oen,
            "linked": linked,
            "conflicts_flagged": conflicts,
            "oen_not_in_spine": with_oen - linked - conflicts,
        }
        flagged = self.rows(
            f"""SELECT d.record_code, v.rep_code FROM det_{source} d JOIN spine_var v ON v.unique_id = d.variant
            WHERE NOT d.ok ORDER BY 1"""
        )
        for left_code, right_code in flagged:
            self.review.append(
                ReviewCandidate(f"{source}~{self.config.spine}", left_code, right_code, None, None, "oen_conflict")
            )

    # -- 4. probabilistic pass ------------------------------------------------------------------------
    def probabilistic(self, source: str) -> None:
        cfg = self.config
        has_postal = bool(scalar(self.con, f"SELECT count(postal) > 0 FROM std_{source}"))
        has_board = bool(scalar(self.con, f"SELECT count(board_year) > 0 FROM std_{source}"))
        has_gender = bool(scalar(self.con, f"SELECT count(gender) > 0 FROM std_{source}")) and bool(
            scalar(self.con, "SELECT count(gender) > 0 FROM spine_person")
        )
        extra: list[str] = []
        if has_postal:
            extra += ["CASE WHEN postal IS NOT NULL THEN [postal] END AS postals",
                      "CASE WHEN fsa IS NOT NULL THEN [fsa] END AS fsas",
                      "CASE WHEN postal IS NOT NULL THEN [left(postal, 1)] END AS areas"]  # fmt: skip
        if has_gender:
            extra.append("gender")
        if has_board:
            extra.append("CASE WHEN board_year IS NOT NULL THEN [board_year] END AS board_years")
        columns = ", ".join(extra)
        # Every record not linked deterministically is scored; so is a sample of those linked,
        # whose links are the training labels (and, for sources with person ids, all of them:
        # a cluster's other records need their scores too).
        keep_all = self.has_person_ids(source)
        sample = "" if keep_all else (
            f"""OR r.record_code IN (SELECT record_code FROM det_{source} WHERE ok
                ORDER BY hash(record_code || {lit(str(cfg.seed))}) LIMIT {cfg.label_sample})"""
        )
        self.sql(
            f"""CREATE TABLE left_{source} AS
            SELECT r.record_code AS unique_id, r.source_person_id, r.given_std, r.given_first, r.given_joined,
              r.given_tokens, r.given_groups, r.given_phon, r.family_std, r.family_joined, r.family_core,
              r.family_tokens, r.family_phon, r.dob, r.dob_str{", " + columns if columns else ""}
            FROM stdn_{source} r
            WHERE {"true" if keep_all else "false"}
              OR r.record_code NOT IN (SELECT record_code FROM det_{source} WHERE ok) {sample}"""
        )
        right_columns = ["unique_id", "NULL::VARCHAR AS source_person_id", "given_std", "given_first", "given_joined",
                         "given_tokens", "given_groups",
                         "given_phon", "family_std", "family_joined", "family_core", "family_tokens", "family_phon",
                         "dob", "dob_str"]  # fmt: skip
        if has_postal:
            right_columns += ["postals", "fsas", "areas"]
        if has_gender:
            right_columns.append("gender")
        if has_board:
            right_columns.append("board_years")
        self.sql(f"CREATE OR REPLACE VIEW right_{source} AS SELECT {', '.join(right_columns)} FROM spine_cmp")
        self.sql(
            f"""CREATE TABLE labels_{source} AS
            SELECT '{splink_model.LEFT}' AS source_dataset_l, d.record_code AS unique_id_l,
              '{splink_model.RIGHT}' AS source_dataset_r, v.unique_id AS unique_id_r
            FROM det_{source} d JOIN spine_var v USING (spine_id)
            WHERE d.ok AND d.record_code IN (SELECT unique_id FROM left_{source})"""
        )
        n_left = scalar(self.con, f"SELECT count(*) FROM left_{source}")
        n_labels = scalar(self.con, f"SELECT count(DISTINCT unique_id_l) FROM labels_{source}")
        pair = f"{source}~{cfg.spine}"
        if n_left == 0:
            self.sql(f"CREATE TABLE cand_{source} (record_code VARCHAR, spine_id VARCHAR, p_pair DOUBLE, w DOUBLE, "
                     "right_code VARCHAR, p DOUBLE, guard BOOLEAN)")  # fmt: skip
            self.stats["models"][pair] = {"records_scored": 0}
            return
        min_p = min(0.01, cfg.review_lower_probability)
        run = splink_model.fit_and_predict(
            self.con, pair, f"left_{source}", f"right_{source}", f"labels_{source}", n_labels, cfg, min_p
        )
        self.models[pair] = run.model
        self.blocking[pair] = run.blocking_rules
        pred = run.predictions.physical_name
        # The share of the source's records expected to be in the spine, from the model's prior.
        persons = scalar(self.con, "SELECT count(*) FROM spine_person")
        lam = float(run.model.get("probability_two_random_records_match") or 0.0)
        in_spine = min(cfg.max_share_in_spine, max(0.01, lam * persons))
        base = (1.0 - in_spine) + in_spine * cfg.blocking_miss_mass
        self.sql(
            f"""CREATE TABLE cand_{source} AS
            WITH scored AS (
              SELECT CASE WHEN source_dataset_l = '{splink_model.LEFT}' THEN unique_id_l ELSE unique_id_r END
                  AS record_code,
                CASE WHEN source_dataset_l = '{splink_model.LEFT}' THEN unique_id_r ELSE unique_id_l END AS variant,
                match_probability AS p, match_weight AS w
              FROM {pred}),
            per_person AS (
              SELECT s.record_code, v.spine_id, max(s.p) AS p_pair, max(s.w) AS w,
                arg_max(v.rep_code, s.w) AS right_code, arg_max(v.unique_id, s.w) AS variant
              FROM scored s JOIN spine_var v ON v.unique_id = s.variant
              WHERE NOT EXISTS (SELECT 1 FROM det_{source} d
                                WHERE d.record_code = s.record_code AND d.spine_id = v.spine_id AND NOT d.ok)
              GROUP BY s.record_code, v.spine_id)
            SELECT pp.record_code, pp.spine_id, pp.p_pair, pp.w, pp.right_code,
              pow(2.0, pp.w) / ({base!r} + sum(pow(2.0, pp.w)) OVER (PARTITION BY pp.record_code)) AS p,
              {twin_guard("r", "v")} AS guard
            FROM per_person pp JOIN stdn_{source} r USING (record_code) JOIN spine_var v ON v.unique_id = pp.variant"""
        )
        self.stats["models"][pair] = {
            "records_scored": n_left,
            "training": run.training,
            "labelled_records": n_labels,
            "pairs_scored_above_floor": scalar(self.con, f"SELECT count(*) FROM {pred}"),
            "probability_two_random_records_match": run.model.get("probability_two_random_records_match"),
            "share_expected_in_spine": round(in_spine, 6),
        }
        self.charts.update(_charts(self.con, run, pair))
        # Splink's working tables (the spine with term frequencies, the predictions) are done with.
        run.linker.table_management.delete_tables_created_by_splink_from_db()
        if self.has_person_ids(source):
            self.dedupe(source, run.model)

    def dedupe(self, source: str, fitted: dict[str, Any]) -> None:
        """Pairs of the source's own records, scored with its fitted model (duplicate persons)."""
        linker, predictions = splink_model.dedupe_predict(
            self.con, f"left_{source}", fitted, min(0.01, self.config.review_lower_probability)
        )
        self.sql(
            f"""CREATE TABLE dup_{source} AS
            SELECT d.unique_id_l AS a, d.unique_id_r AS b, d.match_probability AS p, d.match_weight AS w,
              {twin_guard("x", "y")} AS guard
            FROM {predictions.physical_name} d
            JOIN stdn_{source} x ON x.record_code = d.unique_id_l
            JOIN stdn_{source} y ON y.record_code = d.unique_id_r"""
        )
        linker.table_management.delete_tables_created_by_splink_from_db()

    # -- 5. assignment --------------------------------------------------------------------------------
    def assign_records(self, source: str) -> None:
        """Each record to its own best spine person: deterministic first, then the model."""
        cfg = self.config
        self.sql(
            f"""CREATE TABLE best_{source} AS
            SELECT record_code, arg_max(spine_id, p) AS spine_id, max(p) AS p, arg_max(w, p) AS w,
              arg_max(right_code, p) AS right_code, arg_max(guard, p) AS guard
            FROM cand_{source} GROUP BY record_code"""
        )
        self.sql(
            f"""CREATE TABLE assigned_{source} AS
            SELECT r.record_code,
              CASE WHEN d.spine_id IS NOT NULL THEN d.spine_id
                   WHEN b.p >= {cfg.accept_probability} AND NOT b.guard THEN b.spine_id END AS spine_id,
              CASE WHEN d.spine_id IS NOT NULL THEN 'deterministic'
                   WHEN b.p >= {cfg.accept_probability} AND NOT b.guard THEN 'probabilistic'
                   ELSE 'unlinked' END AS method,
              CASE WHEN d.spine_id IS NOT NULL THEN 1.0
                   WHEN b.p >= {cfg.accept_probability} AND NOT b.guard THEN b.p END AS probability,
              CASE WHEN r.oen IS NOT NULL THEN 'o:' || r.oen ELSE 'r:' || r.record_code END AS own_cluster
            FROM std_{source} r
            LEFT JOIN (SELECT * FROM det_{source} WHERE ok) d USING (record_code)
            LEFT JOIN best_{source} b USING (record_code)"""
        )
        band = self.rows(
            f"""SELECT b.record_code, b.right_code, b.p, b.w, CASE WHEN b.guard THEN 'twin_guard' ELSE 'band' END
            FROM best_{source} b JOIN assigned_{source} a USING (record_code)
            WHERE a.method = 'unlinked' AND b.p >= {cfg.review_lower_probability} ORDER BY b.p DESC, 1"""
        )
        kind = f"{source}~{cfg.spine}"
        for left_code, right_code, p, w, reason in band:
            self.review.append(ReviewCandidate(kind, left_code, right_code, float(p), float(w), reason))

    def assign_clusters(self, source: str) -> None:
        """Cluster the source's records (person id, then its own duplicates), then link each
        cluster to at most one spine person and each spine person to at most one cluster."""
        cfg = self.config
        self.sql(
            f"""CREATE TABLE edges_{source} AS
            SELECT r.record_code AS a, first_value(r.record_code) OVER (PARTITION BY r.source_person_id
              ORDER BY r.record_code) AS b
            FROM std_{source} r WHERE r.source_person_id IS NOT NULL
            UNION ALL
            SELECT a, b FROM dup_{source} WHERE p >= {cfg.accept_probability} AND NOT guard"""
        )
        components(self.con, f"std_{source}", f"edges_{source}", f"cluster_{source}")
        self.sql(
            f"""CREATE TABLE ccand_{source} AS
            WITH joined AS (
              SELECT d.record_code, d.spine_id, 1.0 AS p, NULL::DOUBLE AS w, true AS det, v.rep_code AS right_code,
                false AS guard
              FROM det_{source} d JOIN spine_var v ON v.unique_id = d.variant WHERE d.ok
              UNION ALL
              SELECT record_code, spine_id, p, w, false, right_code, guard FROM cand_{source})
            SELECT c.cluster, j.spine_id, max(j.p) AS p, bool_or(j.det) AS det, arg_max(j.w, j.p) AS w,
              arg_max(j.record_code, j.p) AS left_code, arg_max(j.right_code, j.p) AS right_code,
              arg_max(j.guard, j.p) AND NOT bool_or(j.det) AS guard
            FROM joined j JOIN cluster_{source} c USING (record_code)
            GROUP BY c.cluster, j.spine_id"""
        )
        self.sql(f"CREATE VIEW eligible_{source} AS SELECT * FROM ccand_{source} WHERE NOT guard")
        one_to_one(self.con, f"eligible_{source}", f"chosen_{source}", cfg.accept_probability)
        self.sql(
            f"""CREATE TABLE assigned_{source} AS
            SELECT c.record_code, ch.spine_id,
              CASE WHEN ch.det THEN 'deterministic' WHEN ch.spine_id IS NOT NULL THEN 'probabilistic'
                   ELSE 'unlinked' END AS method,
              ch.p AS probability, 'c:' || c.cluster AS own_cluster
            FROM cluster_{source} c LEFT JOIN chosen_{source} ch USING (cluster)"""
        )
        kind = f"{source}~{cfg.spine}"
        band = self.rows(
            f"""SELECT left_code, right_code, p, w,
              CASE WHEN guard THEN 'twin_guard' WHEN p >= {cfg.accept_probability} THEN 'one_to_one' ELSE 'band' END
            FROM ccand_{source} c
            WHERE c.cluster NOT IN (SELECT cluster FROM chosen_{source}) AND c.p >= {cfg.review_lower_probability}
            QUALIFY row_number() OVER (PARTITION BY c.cluster ORDER BY c.p DESC, c.spine_id) = 1
            ORDER BY p DESC, 1"""
        )
        for left_code, right_code, p, w, reason in band:
            self.review.append(ReviewCandidate(kind, left_code, right_code, float(p), _num(w), reason))
        dup_band = self.rows(
            f"""SELECT d.a, d.b, d.p, d.w, CASE WHEN d.guard AND d.p >= {cfg.accept_probability} THEN 'twin_guard'
              ELSE 'band' END FROM dup_{source} d
            JOIN cluster_{source} ca ON ca.record_code = d.a JOIN cluster_{source} cb ON cb.record_code = d.b
            WHERE ca.cluster <> cb.cluster AND d.p >= {cfg.review_lower_probability}
            QUALIFY row_number() OVER (PARTITION BY least(ca.cluster, cb.cluster), greatest(ca.cluster, cb.cluster)
              ORDER BY d.p DESC) = 1
            ORDER BY d.p DESC, 1"""
        )
        for left_code, right_code, p, w, reason in dup_band:
            self.review.append(ReviewCandidate(f"{source}~{source}", left_code, right_code, float(p), _num(w), reason))
        self.stats.setdefault("clusters", {})[source] = {
            "person_ids": scalar(self.con, f"SELECT count(DISTINCT source_person_id) FROM std_{source}"),
            "clusters": scalar(self.con, f"SELECT count(DISTINCT cluster) FROM cluster_{source}"),
            "duplicate_edges": scalar(self.con, f"SELECT count(*) FROM dup_{source} WHERE p >= "
                                                f"{cfg.accept_probability} AND NOT guard"),  # fmt: skip
            "twin_guarded_pairs": scalar(self.con, f"SELECT count(*) FROM dup_{source} WHERE p >= "
                                                   f"{cfg.accept_probability} AND guard"),  # fmt: skip
            "linked_one_to_one": scalar(self.con, f"SELECT count(*) FROM chosen_{source}"),
        }

    # -- 6. the map -----------------------------------------------------------------------------------
    def build_map(self, previous_map: TableOrLoader | None, decisions: Sequence[Decision]) -> None:
        parts = [f"SELECT record_code, '{self.config.spine}' AS source, 's:' || spine_id AS entity, "
                 "'deterministic' AS method, NULL::DOUBLE AS match_probability FROM spine_rec"]  # fmt: skip
        for source in self.linked:
            parts.append(
                f"""SELECT record_code, '{source}', coalesce('s:' || spine_id, '{source}:' || own_cluster), method,
                probability FROM assigned_{source}"""
            )
        self.sql(f"CREATE TABLE map_entities AS {' UNION ALL '.join(parts)}")
        apply_decisions(self.con, "map_entities", decisions)
        if previous_map is None:
            previous = pa.table({"record_code": pa.array([], pa.string()), "person_key": pa.array([], pa.string())})
        else:
            previous = previous_map if isinstance(previous_map, pa.Table) else previous_map()
        self.con.register("arrow_in", previous.select(["record_code", "person_key"]))
        self.sql("CREATE TABLE previous_map AS SELECT * FROM arrow_in")
        self.con.unregister("arrow_in")
        del previous
        assign_keys(self.con, "map_entities", "previous_map", "link_map", self.config.spine)

    # -- statistics for the report --------------------------------------------------------------------
    def collect_stats(self) -> None:
        from linkhaven.link.stats import collect

        self.stats.update(collect(self.con, self.inputs, self.config, self.linked))


def twin_guard(left: str, right: str) -> str:
    """SQL: the pair looks like twins (or siblings born the same day): same birth date, given names
    that clearly differ (not even one typo apart) and are not swapped with the family names.

    Family name, birth date and address agree for twins as they do for one child, and the model,
    which treats fields as independent, adds their weights into a near-certain match. Such a pair
    is never linked automatically; above the review threshold it goes to clerical review."""
    return (
        f"(NOT {given_close(left, right)} AND NOT {names_swapped(left, right)} "
        f"AND coalesce({left}.dob = {right}.dob, false) AND {left}.given_std IS NOT NULL "
        f"AND {right}.given_std IS NOT NULL)"
    )


def _peak_rss_gib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _charts(con: duckdb.DuckDBPyConnection, run: splink_model.ModelRun, pair: str) -> dict[str, dict[str, Any]]:
    """Splink's parameter, weight-histogram and waterfall charts as Vega-Lite specs (no values:
    the waterfall is built with Splink's `remove_sensitive_data`)."""
    charts: dict[str, dict[str, Any]] = {}
    vis = run.linker.visualisations
    charts[f"{pair}/match_weights"] = vis.match_weights_chart().chart_dict
    charts[f"{pair}/m_u_parameters"] = vis.m_u_parameters_chart().chart_dict
    try:
        charts[f"{pair}/match_weight_histogram"] = vis.match_weights_histogram(run.predictions).chart_dict
    except Exception:  # an empty prediction table has no histogram; the report says so
        log.info("no match weight histogram for %s", pair)
    examples = _waterfall_examples(con, run)
    if examples:
        charts[f"{pair}/waterfall"] = vis.waterfall_chart(examples, remove_sensitive_data=True).chart_dict
    return charts


def _waterfall_examples(con: duckdb.DuckDBPyConnection, run: splink_model.ModelRun) -> list[dict[str, Any]]:
    """A few scored pairs spread over the probability range, to show how weights add up."""
    name = run.predictions.physical_name
    picks = con.execute(
        f"""SELECT * FROM (
          SELECT *, ntile(4) OVER (ORDER BY match_weight) AS q FROM {name})
        QUALIFY row_number() OVER (PARTITION BY q ORDER BY hash(unique_id_l || unique_id_r)) = 1
        ORDER BY match_weight"""
    ).to_arrow_table()
    rows: list[dict[str, Any]] = picks.drop(["q"]).to_pylist()
    return rows


# -- set operations on record graphs, shared with clerical review ----------------------------------------


def components(con: duckdb.DuckDBPyConnection, nodes: str, edges: str, out: str) -> None:
    """Connected components of record codes: `out(record_code, cluster)`, cluster = smallest code.

    Label propagation with pointer jumping, in SQL: each round every node takes the smallest
    label among itself and its neighbours, then the label of its label; it ends in a few rounds
    on the small graphs of one source's duplicates."""
    con.execute(f"CREATE TABLE {out} AS SELECT record_code, record_code AS cluster FROM {nodes}")
    con.execute(
        f"""CREATE TEMP TABLE __edges AS SELECT a, b FROM {edges} WHERE a <> b
        UNION SELECT b, a FROM {edges} WHERE a <> b"""
    )
    while True:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE __next AS
            WITH step AS (
              SELECT o.record_code, least(o.cluster, min(n.cluster)) AS cluster
              FROM {out} o LEFT JOIN __edges e ON e.a = o.record_code LEFT JOIN {out} n ON n.record_code = e.b
              GROUP BY o.record_code, o.cluster)
            SELECT s.record_code, least(s.cluster, j.cluster) AS cluster
            FROM step s JOIN step j ON j.record_code = s.cluster"""
        )
        changed = scalar(
            con, f"SELECT count(*) FROM __next n JOIN {out} o USING (record_code) WHERE n.cluster <> o.cluster"
        )
        con.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT * FROM __next")
        if not changed:
            break
    con.execute("DROP TABLE __edges")
    con.execute("DROP TABLE __next")


def one_to_one(con: duckdb.DuckDBPyConnection, candidates: str, out: str, accept: float) -> None:
    """Greedy one-to-one assignment of clusters to spine persons among candidates at or above `accept`.

    Each round takes every pair that is the best remaining choice of both its cluster and its
    spine person (deterministic links first, then by probability); the round's winners leave the
    pool and the next round runs on what is left. The global best pair always qualifies, so each
    round makes progress; ties are broken by identifier so the result is reproducible."""
    con.execute(f"CREATE TABLE {out} AS SELECT cluster, spine_id, p, det FROM {candidates} WHERE false")
    while True:
        added = con.execute(
            f"""INSERT INTO {out}
            WITH pool AS (
              SELECT * FROM {candidates} c WHERE c.p >= {accept}
                AND c.cluster NOT IN (SELECT cluster FROM {out})
                AND c.spine_id NOT IN (SELECT spine_id FROM {out})),
            ranked AS (
              SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY det DESC, p DESC, spine_id) AS rc,
                row_number() OVER (PARTITION BY spine_id ORDER BY det DESC, p DESC, cluster) AS rs
              FROM pool)
            SELECT cluster, spine_id, p, det FROM ranked WHERE rc = 1 AND rs = 1"""
        ).fetchone()
        if not added or not added[0]:
            break


def apply_decisions(con: duckdb.DuckDBPyConnection, table: str, decisions: Iterable[Decision]) -> int:
    """Apply each `match` decision to `table` (record_code, source, entity, method, match_probability).

    Across sources, the left record's side moves: every record of the left record's source that
    shares its entity joins the right record's entity (a CPIN child's episodes, an EQAO record and
    its OEN-mates), while records of other sources stay where they are; a decision about a CPIN
    child never moves a spine person's enrolments. Within one source (duplicate OENs, duplicate
    CPIN persons) the two entities merge whole. Moved records take method `clerical` and the
    pair's probability. Returns the number of decisions that changed something."""
    applied = 0
    for decision in decisions:
        if decision.decision != "match":
            continue
        found = con.execute(
            f"""SELECT l.entity, l.source, r.entity, r.source FROM {table} l, {table} r
            WHERE l.record_code = ? AND r.record_code = ?""",
            [decision.left_code, decision.right_code],
        ).fetchone()
        if found is None or found[0] == found[2]:
            continue
        left_entity, left_source, right_entity, right_source = found
        scope = "" if left_source == right_source else f" AND source = {lit(left_source)}"
        con.execute(
            f"UPDATE {table} SET entity = ?, method = 'clerical', match_probability = ? WHERE entity = ?{scope}",
            [right_entity, decision.probability, left_entity],
        )
        applied += 1
    return applied


def assign_keys(con: duckdb.DuckDBPyConnection, entities: str, previous: str, out: str, spine: str = "onsis") -> None:
    """Give each entity a person key: the previous key most of its records had, when this entity
    holds more of that key's records than any other entity; otherwise a new random key. Records of
    the spine count first, so when a child's CPIN records join a spine person the spine person's
    key survives, as a clerical merge does; remaining ties go to the key that sorts last (reproducible).

    Keys are 128 random bits from DuckDB's UUID generator, never derived from identifiers, so the
    map says nothing about a person by itself; carrying them over keeps a person's key stable
    across reruns and clerical map versions, which downstream panels rely on."""
    con.execute(
        f"""CREATE TABLE __keys AS
        WITH votes AS (
          SELECT e.entity, p.person_key,
            struct_pack(spine := count(*) FILTER (WHERE e.source = {lit(spine)}), n := count(*)) AS weight
          FROM {entities} e JOIN {previous} p USING (record_code)
          GROUP BY ALL),
        holder AS (
          SELECT person_key, arg_max(entity, struct_pack(w := weight, e := entity)) AS entity,
            max(weight) AS weight
          FROM votes GROUP BY person_key),
        kept AS (
          SELECT entity, arg_max(person_key, struct_pack(w := weight, k := person_key)) AS person_key
          FROM holder GROUP BY entity)
        SELECT e.entity, coalesce(k.person_key, replace(gen_random_uuid()::VARCHAR, '-', '')) AS person_key
        FROM (SELECT DISTINCT entity FROM {entities}) e LEFT JOIN kept k USING (entity)"""
    )
    con.execute(
        f"""CREATE TABLE {out} AS
        SELECT e.record_code, e.source, k.person_key, e.method, e.match_probability
        FROM {entities} e JOIN __keys k USING (entity)"""
    )
    con.execute("DROP TABLE __keys")

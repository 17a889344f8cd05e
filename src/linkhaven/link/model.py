"""The probabilistic pass: Splink 5 on DuckDB, one model per declared link or de-duplication.

What is ours and why (Splink does the Fellegi-Sunter arithmetic, the training and the scoring):
- comparisons with graded levels over the standardised columns, from the spec's declared
  comparisons and each kind's template (`templates.py`);
- blocking rules from the spec, each used where both sides carry its columns; a true pair is lost
  only if it fails every rule, so each rule should tolerate the failure of another's field;
- m trained from the deterministic links as labels where a link has them: pairs known to match,
  with the source's real error patterns, and training on them avoids EM converging on households
  (siblings share family name and address). EM (pairs capped, the spec's `training_blocking`) is
  the fallback, and the method of a de-duplication without labels;
- u by random sampling, capped and seeded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator

from linkhaven.link.config import LinkConfig
from linkhaven.link.templates import build_comparison
from linkhaven.spec.linkage import Kind

LEFT, RIGHT = "records", "spine"


def comparisons(config: LinkConfig, fields: set[str]) -> list[Any]:
    """The declared comparisons over the identity fields both sides of a link carry."""
    kinds = {config.field(name).kind for name in fields}
    return [build_comparison(c, config.field(c.field), kinds) for c in config.linkage.comparisons if c.field in fields]


def authored_strings(config: LinkConfig) -> set[str]:
    """Every string a model built from `config` can legitimately contain: column names, SQL over
    column names, labels, settings keywords. A fitted model's JSON holding any other string would
    carry something from the data, so `service` refuses to store it."""
    fields = set(config.linkage.fields)
    rules = list(config.linkage.blocking) + list(config.linkage.training_blocking)
    strings: set[str] = set()
    link_types: tuple[LinkType, ...] = ("link_only", "dedupe_only")
    for link_type in link_types:
        template = _settings(link_type, config, fields, rules).create_settings_dict("duckdb")
        _collect_strings(template, strings)
    return strings


def _collect_strings(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        into.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "linker_uid":  # a random id Splink gives each linker
                _collect_strings(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_strings(item, into)


def foreign_strings(model: dict[str, Any], config: LinkConfig) -> list[str]:
    """Strings of a fitted model that no declared comparison or rule wrote (should be none)."""
    found: set[str] = set()
    _collect_strings(model, found)
    return sorted(found - authored_strings(config))


@dataclass
class ModelRun:
    """One fitted model and what it predicted; tables live in the run's DuckDB connection."""

    name: str
    linker: Any
    predictions: Any
    model: dict[str, Any]
    training: str
    labels: int
    blocking_rules: list[str]
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)


LinkType = Literal["link_only", "dedupe_only"]


def _settings(
    link_type: LinkType, config: LinkConfig, fields: set[str], rules: list[str], prior: float = 1e-4
) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        probability_two_random_records_match=prior,
        unique_id_column_name="unique_id",
        comparisons=comparisons(config, fields),
        blocking_rules_to_generate_predictions=[{"blocking_rule": r, "sql_dialect": "duckdb"} for r in rules],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )


def fit_and_predict(
    con: duckdb.DuckDBPyConnection,
    name: str,
    left: str,
    right: str,
    labels: str | None,
    n_labels: int,
    config: LinkConfig,
    min_probability: float,
    fields: set[str],
) -> ModelRun:
    """Train a link-only model between tables `left` and `right` on the identity `fields` both
    carry and predict above `min_probability`.

    `labels` names a table of known matching pairs (`source_dataset_l`, `unique_id_l`,
    `source_dataset_r`, `unique_id_r`) with `records` / `spine` as the source names.
    """
    available = _columns(con, left) & _columns(con, right)
    db_api = DuckDBAPI(connection=con)
    left_df = db_api.register(left, dataset_display_name=LEFT)
    right_df = db_api.register(right, dataset_display_name=RIGHT)
    rules = config.rules_for(config.linkage.blocking, available)
    prior = estimate_prior(con, exact_rule(config, available), left, right)
    settings = _settings("link_only", config, fields, rules, prior)
    linker = Linker([left_df, right_df], settings, log_level=logging.WARNING)
    training, fallback = _train(linker, labels, n_labels, config, available)
    if fallback is not None:  # EM failed part-way and may have left its own prior behind: start clean
        linker = Linker([left_df, right_df], fallback, log_level=logging.WARNING)
    predictions = linker.inference.predict(threshold_match_probability=min_probability, warning_mode="never")
    model = linker.misc.save_model_to_json()
    return ModelRun(name, linker, predictions, model, training, n_labels, rules)


ASSUMED_RECALL = 0.8
EXACT_COLUMNS = {Kind.GIVEN_NAME: "given_std", Kind.FAMILY_NAME: "family_joined", Kind.MIDDLE_NAME: "middle_joined"}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def exact_rule(config: LinkConfig, available: set[str]) -> str:
    """SQL: two records agree exactly on every name and date field they both carry (the pairs the
    prior is estimated from, as Splink's estimator does with a deterministic rule); falls back to
    the first compared column."""
    parts = []
    for name, spec in config.linkage.fields.items():
        column = EXACT_COLUMNS.get(spec.kind, name if spec.kind is Kind.DATE else None)
        if column is not None and column in available:
            parts.append(f"l.{column} = r.{column}")
    if not parts:
        column = next(iter(sorted(available - {"unique_id", "source_person_id"})))
        parts.append(f"l.{column} = r.{column}")
    return " AND ".join(parts)


def estimate_prior(con: duckdb.DuckDBPyConnection, exact: str, left: str, right: str | None = None) -> float:
    """The probability that two random records match, as Splink's own estimator computes it
    (pairs agreeing exactly on the `exact` rule, over an assumed recall of 0.8, over all pairs),
    but never zero: with a handful of records no pair may agree exactly, and a zero prior makes
    every weight minus infinity. Within one table (`right` None) pairs are counted once."""

    def count(sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    if right is None:
        found = count(f"SELECT count(*) FROM {left} l JOIN {left} r ON {exact} AND l.unique_id < r.unique_id")
        n = count(f"SELECT count(*) FROM {left}")
        total = max(1, n * (n - 1) // 2)
    else:
        found = count(f"SELECT count(*) FROM {left} l JOIN {right} r ON {exact}")
        total = max(1, count(f"SELECT count(*) FROM {left}") * count(f"SELECT count(*) FROM {right}"))
    return min(0.5, max(1, found) / ASSUMED_RECALL / total)


def _train(
    linker: Any, labels: str | None, n_labels: int, config: LinkConfig, available: set[str]
) -> tuple[str, dict[str, Any] | None]:
    """Fit u, then m; returns how m was obtained, and a clean model to restart from if EM failed."""
    # One chunk: the probe-and-chunk loop costs a pipeline per comparison per chunk, which dominates
    # small runs, while 5e6 pairs per comparison fit in memory at any scale.
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed, num_chunks=1)
    if labels is not None and n_labels >= config.min_labels:
        linker.training.estimate_m_from_pairwise_labels(labels)
        return "m from deterministic links as labels", None
    snapshot: dict[str, Any] = linker.misc.save_model_to_json()
    try:
        for rule in config.rules_for(config.linkage.training_blocking, available):
            linker.training.estimate_parameters_using_expectation_maximisation(
                {"blocking_rule": rule, "sql_dialect": "duckdb"},
                max_pairs=config.em_max_pairs,
                fix_probability_two_random_records_match=True,
            )
    except Exception:  # too few records for EM: Splink's default m values stand (the report says so)
        logging.getLogger(__name__).warning("EM could not run on this little data; default m values are used")
        return "default m values (too little data to train m)", snapshot
    return "m by expectation maximisation", None


def dedupe_predict(
    con: duckdb.DuckDBPyConnection, table: str, model: dict[str, Any], min_probability: float, exact: str
) -> tuple[Any, Any]:
    """Score pairs within one source with a fitted link model's parameters (a source's own duplicates).

    The m and u of a record-to-spine model carry over: agreement between two records of the same
    child, and by chance between two children, does not depend on which file each came from. Only
    the prior (how many pairs match) is re-estimated for within-source pairs."""
    settings = dict(model)
    settings["link_type"] = "dedupe_only"
    settings["probability_two_random_records_match"] = estimate_prior(con, exact, table)
    settings.pop("source_dataset_column_name", None)
    db_api = DuckDBAPI(connection=con)
    frame = db_api.register(table)
    linker = Linker(frame, settings, log_level=logging.WARNING)
    return linker, linker.inference.predict(threshold_match_probability=min_probability, warning_mode="never")


def fit_dedupe(
    con: duckdb.DuckDBPyConnection, name: str, table: str, config: LinkConfig, min_probability: float, fields: set[str]
) -> ModelRun:
    """Train a de-duplication model within one table (no labels: u by random sampling, m by EM on
    the spec's training blocking rules) and predict pairs above `min_probability`."""
    available = _columns(con, table)
    db_api = DuckDBAPI(connection=con)
    frame = db_api.register(table)
    rules = config.rules_for(config.linkage.blocking, available)
    prior = estimate_prior(con, exact_rule(config, available), table)
    linker = Linker(frame, _settings("dedupe_only", config, fields, rules, prior), log_level=logging.WARNING)
    training, fallback = _train(linker, None, 0, config, available)
    if fallback is not None:
        linker = Linker(frame, fallback, log_level=logging.WARNING)
    predictions = linker.inference.predict(threshold_match_probability=min_probability, warning_mode="never")
    model = linker.misc.save_model_to_json()
    return ModelRun(name, linker, predictions, model, training, 0, rules)

"""The probabilistic pass: Splink 5 on DuckDB, one model per source linked to the spine.

What is ours and why (Splink does the Fellegi-Sunter arithmetic, the training and the scoring):
- comparisons with graded levels over the standardised columns: names exact (with term-frequency
  adjustment, so a match on a rare name counts for more than one on Smith), equivalent (nickname,
  other-language form, part of a compound), Jaro-Winkler, phonetic, and swapped with the other name
  field; birth date exact, day and month exchanged, one digit off or two digits transposed, one
  part off; postal code against every postal code the spine person ever had, then the FSA; for
  sources that carry them, the school board and year against the spine person's enrolments;
- blocking rules chosen for recall: each rule tolerates the failure of another field, so a record
  with a nickname, a new family name, a typed-wrong birth date or swapped names still meets its
  spine person under at least one rule, while each block stays small;
- m trained from the deterministic (OEN) links as labels: they are pairs known to match, with the
  source's real error patterns, and training on them avoids EM converging on households (siblings
  share family name and address). EM (pairs capped) is the fallback when a source has too few;
- u by random sampling, capped and seeded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from linkhaven.link.config import LinkConfig

LEFT, RIGHT = "records", "spine"
NAME_SWAP = "Names swapped (given <-> family)"


def given_name_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="given_name",
        comparison_description="Given name",
        comparison_levels=[
            cll.NullLevel("given_std"),
            cll.ExactMatchLevel("given_std", term_frequency_adjustments=True),
            # Swapped names count once, here, and only when both names moved: one name that
            # happens to equal the other field (Thomas, James) is common among non-matches. Both
            # at once is so rare among non-matches that random sampling may never see it, which
            # left u unestimated and the weight unstable between runs; u is fixed instead at
            # 1e-6, above the product of the two one-way rates (about 1e-7), i.e. conservative.
            cll.CustomLevel(
                '"given_joined_l" = "family_joined_r" AND "family_joined_l" = "given_joined_r"',
                label_for_charts=NAME_SWAP,
            ).configure(u_probability=1e-6, fix_u_probability=True),
            cll.CustomLevel(
                'list_has_any("given_groups_l", "given_groups_r")',
                label_for_charts="Equivalent: short form or other-language form",
            ),
            cll.CustomLevel(
                'list_has_all("given_tokens_l", "given_tokens_r") OR list_has_all("given_tokens_r", "given_tokens_l")',
                label_for_charts="One is part of the other (compound given name)",
            ),
            cll.JaroWinklerLevel("given_std", 0.92),
            cll.CustomLevel(
                '"given_phon_l" = "given_phon_r" OR jaro_winkler_similarity("given_std_l", "given_std_r") >= 0.8',
                label_for_charts="Same phonetic key or Jaro-Winkler >= 0.8",
            ),
            cll.ElseLevel(),
        ],
    )


def family_name_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="family_name",
        comparison_description="Family name",
        comparison_levels=[
            cll.NullLevel("family_joined"),
            cll.ExactMatchLevel("family_joined", term_frequency_adjustments=True),
            # Neutral by construction: the swap's evidence is counted in the given-name comparison.
            cll.CustomLevel(
                '"given_joined_l" = "family_joined_r" AND "family_joined_l" = "given_joined_r"',
                label_for_charts=NAME_SWAP + " (counted with the given name)",
            ).configure(m_probability=0.5, u_probability=0.5, fix_m_probability=True, fix_u_probability=True),
            cll.CustomLevel(
                '"family_core_l" = "family_core_r" OR list_has_all("family_tokens_l", "family_tokens_r") '
                'OR list_has_all("family_tokens_r", "family_tokens_l")',
                label_for_charts="Same without particles, or one part of a compound name",
            ),
            cll.JaroWinklerLevel("family_joined", 0.92),
            cll.CustomLevel(
                '"family_phon_l" = "family_phon_r" OR jaro_winkler_similarity("family_joined_l", "family_joined_r") '
                ">= 0.8",
                label_for_charts="Same phonetic key or Jaro-Winkler >= 0.8",
            ),
            cll.ElseLevel(),
        ],
    )


def birth_date_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description="Date of birth",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(
                'year("dob_l") = year("dob_r") AND month("dob_l") = day("dob_r") AND day("dob_l") = month("dob_r")',
                label_for_charts="Day and month exchanged",
            ),
            cll.CustomLevel(
                'damerau_levenshtein("dob_str_l", "dob_str_r") <= 1',
                label_for_charts="One digit wrong or two adjacent digits transposed",
            ),
            cll.CustomLevel(
                '(year("dob_l") = year("dob_r") AND (month("dob_l") = month("dob_r") OR day("dob_l") = day("dob_r"))) '
                'OR (month("dob_l") = month("dob_r") AND day("dob_l") = day("dob_r") '
                'AND abs(year("dob_l") - year("dob_r")) = 1)',
                label_for_charts="One of year, month, day differs",
            ),
            cll.ElseLevel(),
        ],
    )


def postal_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="postal_code",
        comparison_description="Postal code (any of the spine person's)",
        comparison_levels=[
            cll.NullLevel("postals"),
            cll.ArrayIntersectLevel("postals", 1).configure(label_for_charts="Postal code in common"),
            cll.ArrayIntersectLevel("fsas", 1).configure(label_for_charts="FSA in common"),
            cll.ArrayIntersectLevel("areas", 1).configure(
                label_for_charts="Postal district in common (first letter: K, L, M, N, P in Ontario)"
            ),
            cll.ElseLevel(),
        ],
    )


def gender_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="gender",
        comparison_description="Gender (as mapped to F, M, X)",
        comparison_levels=[cll.NullLevel("gender"), cll.ExactMatchLevel("gender"), cll.ElseLevel()],
    )


def board_year_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="board_year",
        comparison_description="School board in that school year",
        comparison_levels=[
            cll.NullLevel("board_years"),
            cll.ArrayIntersectLevel("board_years", 1).configure(
                label_for_charts="Enrolled with that board that year"
            ),
            cll.ElseLevel(),
        ],
    )


def comparisons(columns: set[str]) -> list[Any]:
    """The comparisons a source supports: names and birth date always; postal code, gender and
    board/year only where both the source and the spine carry them (EQAO has no postal code or
    gender, CPIN no board)."""
    chosen = [given_name_comparison(), family_name_comparison(), birth_date_comparison()]
    if "postals" in columns:
        chosen.append(postal_comparison())
    if "gender" in columns:
        chosen.append(gender_comparison())
    if "board_years" in columns:
        chosen.append(board_year_comparison())
    return chosen


BASE_RULES = [
    # birth date and the family name's sound: survives given-name variants and nicknames
    "l.dob = r.dob AND l.family_phon = r.family_phon",
    # birth date and given-name initial: survives a new or compound family name
    "l.dob = r.dob AND substr(l.given_std, 1, 1) = substr(r.given_std, 1, 1)",
    # both names exactly: survives any birth-date error
    "l.given_std = r.given_std AND l.family_joined = r.family_joined",
    # names swapped, with the birth date
    "l.dob = r.dob AND l.given_joined = r.family_joined",
    # both names by sound within the birth year: a birth-date error plus a misspelling
    "l.given_phon = r.given_phon AND l.family_phon = r.family_phon AND year(l.dob) = year(r.dob)",
    # family name, birth year and given initial: a birth-date error plus a short form (Mo / Mohamed)
    "l.family_joined = r.family_joined AND year(l.dob) = year(r.dob) "
    "AND substr(l.given_std, 1, 1) = substr(r.given_std, 1, 1)",
    # day and month exchanged, with the family name's sound
    "year(l.dob) = year(r.dob) AND month(l.dob) = day(r.dob) AND day(l.dob) = month(r.dob) "
    "AND l.family_phon = r.family_phon",
]
POSTAL_RULES = [
    # birth date and a shared FSA: survives misspelt given and family names together
    "l.dob = r.dob AND list_has_any(l.fsas, r.fsas)",
]
BOARD_RULES = [
    # birth date and the board in that school year: the same, for sources without postal codes
    "l.dob = r.dob AND list_has_any(l.board_years, r.board_years)",
]


def blocking_rules(columns: set[str]) -> list[str]:
    """Prediction blocking rules for a source. A true pair is lost only if it fails every rule;
    each rule tolerates the failure of some field that another rule relies on."""
    rules = list(BASE_RULES)
    if "fsas" in columns:
        rules += POSTAL_RULES
    if "board_years" in columns:
        rules += BOARD_RULES
    return rules


def authored_strings() -> set[str]:
    """Every string a model built by this module can legitimately contain: column names, SQL over
    column names, labels, settings keywords. A fitted model's JSON holding any other string would
    carry something from the data, so `service` refuses to store it."""
    columns = {"postals", "gender", "board_years"}
    strings: set[str] = set()
    link_types: tuple[LinkType, ...] = ("link_only", "dedupe_only")
    for link_type in link_types:
        template = _settings(link_type, columns, blocking_rules({"fsas", "board_years"})).create_settings_dict(
            "duckdb"
        )
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


def foreign_strings(model: dict[str, Any]) -> list[str]:
    """Strings of a fitted model that no comparison or rule of this module wrote (should be none)."""
    found: set[str] = set()
    _collect_strings(model, found)
    return sorted(found - authored_strings())


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


def _settings(link_type: LinkType, columns: set[str], rules: list[str], prior: float = 1e-4) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        probability_two_random_records_match=prior,
        unique_id_column_name="unique_id",
        comparisons=comparisons(columns),
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
) -> ModelRun:
    """Train a link-only model between tables `left` and `right` and predict above `min_probability`.

    `labels` names a table of known matching pairs (`source_dataset_l`, `unique_id_l`,
    `source_dataset_r`, `unique_id_r`) with `records` / `spine` as the source names.
    """
    columns = {r[0] for r in con.execute(f"DESCRIBE {left}").fetchall()}
    db_api = DuckDBAPI(connection=con)
    left_df = db_api.register(left, dataset_display_name=LEFT)
    right_df = db_api.register(right, dataset_display_name=RIGHT)
    rules = blocking_rules(columns)
    prior = estimate_prior(con, left, right)
    linker = Linker([left_df, right_df], _settings("link_only", columns, rules, prior), log_level=logging.WARNING)
    training, fallback = _train(linker, labels, n_labels, config)
    if fallback is not None:  # EM failed part-way and may have left its own prior behind: start clean
        linker = Linker([left_df, right_df], fallback, log_level=logging.WARNING)
    predictions = linker.inference.predict(threshold_match_probability=min_probability, warning_mode="never")
    model = linker.misc.save_model_to_json()
    return ModelRun(name, linker, predictions, model, training, n_labels, rules)


EXACT = "l.given_std = r.given_std AND l.family_joined = r.family_joined AND l.dob = r.dob"
ASSUMED_RECALL = 0.8


def estimate_prior(con: duckdb.DuckDBPyConnection, left: str, right: str | None = None) -> float:
    """The probability that two random records match, as Splink's own estimator computes it
    (pairs agreeing exactly on both names and birth date, over an assumed recall of 0.8, over all
    pairs), but never zero: with a handful of records no pair may agree exactly, and a zero prior
    makes every weight minus infinity. Within one table (`right` None) pairs are counted once."""

    def count(sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    if right is None:
        found = count(f"SELECT count(*) FROM {left} l JOIN {left} r ON {EXACT} AND l.unique_id < r.unique_id")
        n = count(f"SELECT count(*) FROM {left}")
        total = max(1, n * (n - 1) // 2)
    else:
        found = count(f"SELECT count(*) FROM {left} l JOIN {right} r ON {EXACT}")
        total = max(1, count(f"SELECT count(*) FROM {left}") * count(f"SELECT count(*) FROM {right}"))
    return min(0.5, max(1, found) / ASSUMED_RECALL / total)


def _train(linker: Any, labels: str | None, n_labels: int, config: LinkConfig) -> tuple[str, dict[str, Any] | None]:
    """Fit u, then m; returns how m was obtained, and a clean model to restart from if EM failed."""
    # One chunk: the probe-and-chunk loop costs a pipeline per comparison per chunk, which dominates
    # small runs, while 5e6 pairs per comparison fit in memory at any scale.
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed, num_chunks=1)
    if labels is not None and n_labels >= config.min_labels:
        linker.training.estimate_m_from_pairwise_labels(labels)
        return "m from deterministic links as labels", None
    snapshot: dict[str, Any] = linker.misc.save_model_to_json()
    try:
        for rule in (block_on("dob"), block_on("given_std", "family_joined")):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=config.em_max_pairs, fix_probability_two_random_records_match=True
            )
    except Exception:  # too few records for EM: Splink's default m values stand (the report says so)
        logging.getLogger(__name__).warning("EM could not run on this little data; default m values are used")
        return "default m values (too little data to train m)", snapshot
    return "m by expectation maximisation", None


def dedupe_predict(
    con: duckdb.DuckDBPyConnection, table: str, model: dict[str, Any], min_probability: float
) -> tuple[Any, Any]:
    """Score pairs within one source with a fitted link model's parameters (CPIN's own duplicates).

    The m and u of a record-to-spine model carry over: agreement between two records of the same
    child, and by chance between two children, does not depend on which file each came from. Only
    the prior (how many pairs match) is re-estimated for within-source pairs."""
    settings = dict(model)
    settings["link_type"] = "dedupe_only"
    settings["probability_two_random_records_match"] = estimate_prior(con, table)
    settings.pop("source_dataset_column_name", None)
    db_api = DuckDBAPI(connection=con)
    frame = db_api.register(table)
    linker = Linker(frame, settings, log_level=logging.WARNING)
    return linker, linker.inference.predict(threshold_match_probability=min_probability, warning_mode="never")

"""Plain Splink on the FEBRL benchmark: the comparison figure for the FEBRL example.

The same deliveries `scripts/febrl_extracts.py` writes (no `soc_sec_id`), linked and de-duplicated by
Splink 5 alone, written as a careful Splink user would: values lower-cased and trimmed, dates parsed;
names exact / Jaro-Winkler 0.92, 0.88, 0.70; date of birth exact / one edit / within a month / a year
/ ten years; street number exact / one edit; street, building and suburb exact / Jaro-Winkler 0.9,
0.8; postcode exact / one edit; state exact. Prediction blocking on postcode, on date of birth, on
the surname's first two letters with the given name's initial, on street number with the suburb's
first three letters, and on both names. u from 2 million random pairs, m by EM (blocked on date of
birth, then postcode with the surname's initial), the prior from exact name-and-date matches.

- FEBRL 4 (two files): link-only; a pair at or above the threshold is a link (no one-to-one step).
- FEBRL 3 (one file): dedupe-only; persons are Splink's connected components at the threshold.

Pairwise precision, recall and F1 are counted as `linkhaven link evaluate` counts them.

    .venv/bin/python benchmarks/febrl_splink_baseline.py [--threshold 0.9] [--extracts DIR]

Writes benchmarks/results/febrl-splink-baseline.json (unless --no-write) and prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from _measure import ROOT, commit, machine, now, write_result

sys.path.insert(0, str(ROOT / "scripts"))
from febrl_extracts import write_extracts  # noqa: E402

TEXT = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state"]


def load(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    """One delivery as Splink's input table: cleaned text, the date parsed."""
    cleaned = ", ".join(f"NULLIF(lower(trim({c})), '') AS {c}" for c in TEXT)
    con.execute(
        f"""CREATE TABLE {name} AS
        SELECT rec_id AS unique_id, {cleaned},
          CAST(try_strptime(NULLIF(trim(date_of_birth), ''), '%Y%m%d') AS DATE) AS dob
        FROM read_csv('{path}', header = true, all_varchar = true)"""
    )


def settings(link_type: str) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.88, 0.7]),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.88, 0.7]),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.LevenshteinAtThresholds("street_number", [1]),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.8]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("postcode"),
            block_on("dob"),
            block_on("substr(surname, 1, 2)", "substr(given_name, 1, 1)"),
            block_on("street_number", "substr(suburb, 1, 3)"),
            block_on("given_name", "surname"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def fit(linker: Linker, prior_rule: Any) -> None:
    linker.training.estimate_probability_two_random_records_match([prior_rule], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode", "substr(surname, 1, 1)"))


def metrics(tp: int, predicted: int, true: int) -> dict[str, Any]:
    precision = tp / predicted if predicted else None
    recall = tp / true if true else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {"precision": precision and round(precision, 6), "recall": recall and round(recall, 6),
            "f1": f1 and round(f1, 6), "tp": tp, "fp": predicted - tp, "fn": true - tp}  # fmt: skip


def one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0] or 0) if row else 0


def run(extracts: Path, threshold: float) -> dict[str, Any]:
    con = duckdb.connect()
    for name in ("febrl4_a", "febrl4_b", "febrl3"):
        load(con, name, extracts / f"{name}.csv")
    con.execute(f"CREATE TABLE truth AS SELECT * FROM read_csv('{extracts / 'truth.csv'}', all_varchar = true)")
    api = DuckDBAPI(connection=con)
    out: dict[str, Any] = {}
    prior_rule = block_on("given_name", "surname", "dob")

    started = time.perf_counter()
    linker = Linker([api.register("febrl4_a"), api.register("febrl4_b")], settings("link_only"),
                    log_level=logging.WARNING)  # fmt: skip
    fit(linker, prior_rule)
    predictions = linker.inference.predict(threshold_match_probability=threshold).physical_name
    tp = one(con, f"""SELECT count(*) FROM {predictions} p
        JOIN truth a ON a.source = 'febrl4_a' AND a.record_id IN (p.unique_id_l, p.unique_id_r)
        JOIN truth b ON b.source = 'febrl4_b' AND b.record_id IN (p.unique_id_l, p.unique_id_r)
        WHERE a.person_id = b.person_id""")  # fmt: skip
    true = one(con, """SELECT sum(na * nb) FROM (SELECT person_id, count(*) FILTER (WHERE source = 'febrl4_a') AS na,
        count(*) FILTER (WHERE source = 'febrl4_b') AS nb FROM truth GROUP BY 1)""")  # fmt: skip
    out["febrl4_b~febrl4_a"] = {**metrics(tp, one(con, f"SELECT count(*) FROM {predictions}"), true),
                                "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip

    started = time.perf_counter()
    linker = Linker(api.register("febrl3"), settings("dedupe_only"), log_level=logging.WARNING)
    fit(linker, prior_rule)
    predictions_df = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions_df, threshold_match_probability=threshold
    ).physical_name
    con.execute(
        f"""CREATE TABLE cells AS SELECT c.cluster_id AS k, t.person_id AS t, count(*) AS n
        FROM {clusters} c JOIN truth t ON t.source = 'febrl3' AND t.record_id = c.unique_id GROUP BY 1, 2"""
    )
    tp = one(con, "SELECT sum(n * (n - 1) / 2) FROM cells")
    predicted = one(con, "SELECT sum(n * (n - 1) / 2) FROM (SELECT sum(n) AS n FROM cells GROUP BY k)")
    true = one(con, "SELECT sum(n * (n - 1) / 2) FROM (SELECT sum(n) AS n FROM cells GROUP BY t)")
    out["febrl3~febrl3"] = {**metrics(tp, predicted, true), "seconds": round(time.perf_counter() - started, 1)}
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=0.9, help="Match probability of a link (default 0.9).")
    parser.add_argument("--extracts", type=Path, help="Deliveries written by scripts/febrl_extracts.py.")
    parser.add_argument("--no-write", action="store_true", help="Print only; do not write the results file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        extracts = args.extracts or Path(tmp)
        if args.extracts is None:
            write_extracts(extracts)
        pairs = run(extracts, args.threshold)
    result = {"benchmark": "febrl-splink-baseline", "when": now(), "commit": commit(), "machine": machine(),
              "command": "python benchmarks/febrl_splink_baseline.py", "threshold": args.threshold,
              "pairs": pairs}  # fmt: skip
    if not args.no_write:
        write_result("febrl-splink-baseline", result)
    print(json.dumps(pairs))


if __name__ == "__main__":
    main()

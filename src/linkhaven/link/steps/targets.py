"""Step 2, targets: each source others are linked to becomes a table of persons to compare against.

A target's records are grouped into persons by its declared identifier (`dedupe: by: identifier`)
or else each record is a person. A person's distinct spellings of its identity (names, dates,
addresses) are its variants, each compared on its own, so a person matches on its best variant
(a typo in one year, a new family name from some year on); postcodes and codes are gathered over
all its records (a child's every postal code, every board and year). Variant ids follow a record
code, so the same data gives the same ids, the same u sample, the same model on a rerun.

Where persons come from an identifier the step also checks them: variants of one identifier that
clearly disagree are counted, and distinct identifiers carrying the same names, date and postcode
are queued for clerical review as possible duplicates.
"""

from __future__ import annotations

from linkhaven.link.config import VARIANT_KINDS
from linkhaven.link.context import RunContext
from linkhaven.link.sql import corroborated
from linkhaven.link.steps.prepare import RAW, name_joins, name_kinds, name_select
from linkhaven.link.types import ReviewCandidate
from linkhaven.spec.linkage import NAME_PREFIX, Kind


def variant_columns(ctx: RunContext, source: str) -> list[str]:
    """Columns of std_<source> that spell a variant (raw names, dates with their digits, addresses)."""
    out = []
    for b in ctx.config.bindings(source):
        if b.kind in RAW:
            out.append(RAW[b.kind])
        elif b.kind in VARIANT_KINDS:
            out.append(b.identity)
    return out


def person_columns(ctx: RunContext, source: str) -> list[tuple[str, str, Kind]]:
    """(identity, column, kind) of the fields gathered over a person's records."""
    return [(b.identity, b.identity, b.kind) for b in ctx.config.bindings(source) if b.kind not in VARIANT_KINDS]


def build_targets(ctx: RunContext) -> None:
    for target in ctx.config.targets:
        if target in ctx.inputs:
            build_target(ctx, target)


def build_target(ctx: RunContext, target: str) -> None:
    identifier = ctx.config.dedupe_identifier(target)
    entity = f"coalesce({identifier}, 'X' || record_code)" if identifier else "'X' || record_code"
    ctx.sql(f"CREATE VIEW rec_{target} AS SELECT *, {entity} AS spine_id FROM std_{target}")
    keys = variant_columns(ctx, target)
    dates = [b.identity for b in ctx.config.bindings(target) if b.kind is Kind.DATE]
    group = ", ".join(["spine_id", *keys])
    extra = "".join(f", any_value({d}_str) AS {d}_str" for d in dates)
    kinds = name_kinds(ctx, target)
    names = name_select(kinds)
    ctx.sql(
        f"""CREATE TABLE var_{target} AS
        SELECT 'v' || row_number() OVER (ORDER BY v.rep_code) AS unique_id, v.*{", " + names if names else ""} FROM (
          SELECT {group}{extra}, count(*) AS n_records, min(record_code) AS rep_code
          FROM rec_{target} GROUP BY {group}) v {name_joins(kinds, "v")}"""
    )
    # Each list from its own narrow distinct pass: cheaper than list(DISTINCT ...) aggregates over
    # every record at once.
    parts, selects = [], []
    for identity, column, kind in person_columns(ctx, target):
        spec = ctx.config.field(identity)
        if kind in (Kind.POSTCODE, Kind.CODE_IN_PERIOD):
            parts.append(
                f""", p_{identity} AS (SELECT spine_id, list({column}) AS {identity}_set FROM (SELECT DISTINCT
                spine_id, {column} FROM rec_{target} WHERE {column} IS NOT NULL) GROUP BY 1)"""
            )
            selects.append(f"p_{identity}.{identity}_set")
            for n in spec.prefixes if kind is Kind.POSTCODE else ():
                selects.append(
                    f"list_distinct(list_transform(p_{identity}.{identity}_set, lambda x: left(x, {n}))) "
                    f"AS {identity}_p{n}"
                )
        else:
            selects.append(f"b.{identity}")
    base = ", ".join(
        ["spine_id", "count(*) AS n_records"]
        + [f"max({column}) AS {identity}" for identity, column, kind in person_columns(ctx, target)
           if kind not in (Kind.POSTCODE, Kind.CODE_IN_PERIOD)]
    )  # fmt: skip
    joins = " ".join(
        f"LEFT JOIN p_{identity} USING (spine_id)"
        for identity, _, kind in person_columns(ctx, target)
        if kind in (Kind.POSTCODE, Kind.CODE_IN_PERIOD)
    )
    ctx.sql(
        f"""CREATE TABLE person_{target} AS
        WITH b AS (SELECT {base} FROM rec_{target} GROUP BY 1){"".join(parts)}
        SELECT b.spine_id, b.n_records{"".join(", " + s for s in selects)} FROM b {joins}"""
    )
    variant_std = [f"v.{c}" for c in _variant_std_columns(ctx, target)]
    person = [c for c in _columns(ctx, f"person_{target}") if c not in ("spine_id", "n_records")]
    ctx.sql(
        f"""CREATE TABLE cmp_{target} AS
        SELECT v.unique_id, v.spine_id, {", ".join(variant_std + [f"p.{c}" for c in person])}
        FROM var_{target} v JOIN person_{target} p USING (spine_id)"""
    )
    records, persons, variants = ctx.rows(
        f"SELECT (SELECT count(*) FROM rec_{target}), (SELECT count(*) FROM person_{target}), "
        f"(SELECT count(*) FROM var_{target})"
    )[0]
    stats = {"source": target, "records": records, "persons": persons, "identity_variants": variants}
    if identifier is not None:
        stats.update(_check_persons(ctx, target, identifier))
    ctx.stats.setdefault("targets", {})[target] = stats
    if target == ctx.config.spine:
        ctx.stats["spine"] = stats


def _columns(ctx: RunContext, table: str) -> list[str]:
    return [r[0] for r in ctx.rows(f"DESCRIBE {table}")]


def _variant_std_columns(ctx: RunContext, source: str) -> list[str]:
    """The standardised variant columns the comparisons read (not the raw names)."""
    out: list[str] = []
    for b in ctx.config.bindings(source):
        if b.kind in NAME_PREFIX:
            out += list(ctx.config.columns(b.identity))
        elif b.kind is Kind.DATE:
            out += [b.identity, f"{b.identity}_str"]
        elif b.kind in VARIANT_KINDS:
            out.append(b.identity)
    return out


def _check_persons(ctx: RunContext, target: str, identifier: str) -> dict[str, int]:
    out = {"records_without_identifier": int(ctx.scalar(f"SELECT count(*) FROM rec_{target} WHERE {identifier} "
                                                         "IS NULL"))}  # fmt: skip
    date = ctx.config.date
    carried = {b.kind for b in ctx.config.bindings(target)}
    if {Kind.GIVEN_NAME, Kind.FAMILY_NAME, Kind.DATE} <= carried and date is not None:
        # Variants of one identifier that clearly disagree with its commonest variant: counted, kept.
        disagreeing = ctx.rows(
            f"""WITH modal AS (
              SELECT * FROM var_{target} QUALIFY row_number() OVER (PARTITION BY spine_id ORDER BY n_records DESC,
                unique_id) = 1)
            SELECT count(*), coalesce(sum(v.n_records), 0) FROM var_{target} v JOIN modal m USING (spine_id)
            WHERE v.unique_id <> m.unique_id AND NOT {corroborated("v", "m", date)}"""
        )[0]
        out["disagreeing_variants"] = int(disagreeing[0])
        out["disagreeing_records"] = int(disagreeing[1])
        postcode = next((b.identity for b in ctx.config.bindings(target) if b.kind is Kind.POSTCODE), None)
        where = f"AND {postcode} IS NOT NULL" if postcode else ""
        place = f", {postcode}" if postcode else ""
        # Distinct identifiers with the same names, date (and postcode): possibly one person, two identifiers.
        duplicates = ctx.rows(
            f"""WITH raw_keyed AS (
              SELECT given_raw, family_raw, {date}{place}, spine_id, min(record_code) AS code FROM rec_{target}
              WHERE {identifier} IS NOT NULL AND {date} IS NOT NULL {where}
              GROUP BY ALL),
            keyed AS (
              SELECT g.given_std, f.family_joined, k.{date}{place.replace(", ", ", k.")}, k.spine_id,
                min(k.code) AS code
              FROM raw_keyed k JOIN name_std g ON g.raw = k.given_raw JOIN name_std f ON f.raw = k.family_raw
              WHERE g.given_std IS NOT NULL AND f.family_joined IS NOT NULL GROUP BY ALL)
            SELECT a.code, b.code FROM keyed a JOIN keyed b USING (given_std, family_joined, {date}{place})
            WHERE a.spine_id < b.spine_id ORDER BY 1, 2"""
        )
        for left_code, right_code in duplicates:
            reason = "same_identity_two_identifiers"
            ctx.review.append(ReviewCandidate(f"{target}~{target}", left_code, right_code, None, None, reason))
        out["possible_duplicate_identifiers"] = len(duplicates)
    return out

"""Step 3, deterministic: a record sharing a declared identifier with a target person is linked
when the spec's corroboration holds (`two_of_names_and_date`: see `sql.corroborated`); when it
clearly disagrees the pair is flagged for review and never linked, by this pass or the model.

A link with no applicable rule (no identifier both sides carry) gets an empty table, so the later
steps read one shape.
"""

from __future__ import annotations

from linkhaven.link.context import RunContext
from linkhaven.link.sql import corroborated
from linkhaven.link.types import ReviewCandidate
from linkhaven.spec.linkage import Corroboration, DeterministicRule


def applicable_rule(ctx: RunContext, source: str) -> DeterministicRule | None:
    target = ctx.config.link_of(source).to
    both = ctx.both_carry(source, target)
    return next((rule for rule in ctx.config.linkage.deterministic if rule.identifier in both), None)


def deterministic(ctx: RunContext) -> None:
    for source in ctx.links:
        link_by_identifier(ctx, source)


def link_by_identifier(ctx: RunContext, source: str) -> None:
    target = ctx.config.link_of(source).to
    rule = applicable_rule(ctx, source)
    if rule is None:
        ctx.sql(f"CREATE TABLE det_{source} (record_code VARCHAR, spine_id VARCHAR, ok BOOLEAN, variant VARCHAR)")
        ctx.stats["deterministic"][source] = {"rule": None}
        return
    ident = rule.identifier
    if ctx.config.dedupe_identifier(target) == ident:
        persons = f"JOIN var_{target} v ON v.spine_id = r.{ident}"
    else:
        persons = (
            f"JOIN (SELECT DISTINCT spine_id, {ident} FROM rec_{target} WHERE {ident} IS NOT NULL) x "
            f"ON x.{ident} = r.{ident} JOIN var_{target} v ON v.spine_id = x.spine_id"
        )
    ok = "true" if rule.corroboration is Corroboration.NONE else corroborated("r", "v", ctx.config.date or "")
    ctx.sql(
        f"""CREATE TABLE det_{source} AS
        SELECT r.record_code, v.spine_id, bool_or({ok}) AS ok, arg_max(v.unique_id, v.n_records) AS variant
        FROM stdn_{source} r {persons}
        GROUP BY r.record_code, v.spine_id"""
    )
    with_id, linked, conflicts = ctx.rows(
        f"""SELECT (SELECT count({ident}) FROM std_{source}), count(*) FILTER (WHERE ok),
            count(*) FILTER (WHERE NOT ok) FROM det_{source}"""
    )[0]
    ctx.stats["deterministic"][source] = {
        "rule": rule.name,
        "records_with_identifier": with_id,
        "linked": linked,
        "conflicts_flagged": conflicts,
        "identifier_not_in_target": with_id - linked - conflicts,
    }
    flagged = ctx.rows(
        f"""SELECT d.record_code, v.rep_code FROM det_{source} d JOIN var_{target} v ON v.unique_id = d.variant
        WHERE NOT d.ok ORDER BY 1"""
    )
    for left_code, right_code in flagged:
        ctx.review.append(
            ReviewCandidate(f"{source}~{target}", left_code, right_code, None, None, "identifier_conflict")
        )

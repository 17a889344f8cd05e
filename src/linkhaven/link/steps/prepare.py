"""Step 1, prepare: load each source's tables and standardise its identity fields by kind.

Each identity field the spec binds to a source becomes the standardised columns of its kind
(docs/linkage.md): names are standardised once per distinct spelling in Python (`standardise.py`)
and joined back, everything else is SQL. A field a source does not carry is simply absent; which
fields each source carries with values is recorded for the steps that compare them.
"""

from __future__ import annotations

from linkhaven.derivations.identifiers import identifier_rule
from linkhaven.link.config import Binding
from linkhaven.link.context import RunContext
from linkhaven.link.standardise import address_sql, dob_sql, name_table, postcode_sql
from linkhaven.link.types import CONTENT_USED
from linkhaven.spec.linkage import NAME_PREFIX, Kind
from linkhaven.sqlquote import lit, q

RAW = {Kind.GIVEN_NAME: "given_raw", Kind.FAMILY_NAME: "family_raw", Kind.MIDDLE_NAME: "middle_raw"}
NAME_COLUMNS = {
    Kind.GIVEN_NAME: ("g", "given", ("given_std", "given_first", "given_joined", "given_tokens", "given_groups",
                                     "given_phon")),
    Kind.FAMILY_NAME: ("f", "family", ("family_std", "family_joined", "family_core", "family_tokens", "family_phon")),
    Kind.MIDDLE_NAME: ("m", "given", ("given_std", "given_joined", "given_tokens", "given_phon")),
}  # fmt: skip


def name_select(kinds: set[Kind], alias_of: dict[Kind, str] | None = None) -> str:
    """SELECT list of the standardised name columns of `kinds`, from the joined `name_std` aliases."""
    parts = []
    for kind, (alias, _, columns) in NAME_COLUMNS.items():
        if kind in kinds:
            prefix = NAME_PREFIX[kind]
            a = (alias_of or {}).get(kind, alias)
            parts += [f"{a}.{c} AS {prefix}{c[c.index('_') :]}" for c in columns]
    return ", ".join(parts)


def name_joins(kinds: set[Kind], table: str) -> str:
    return " ".join(
        f"LEFT JOIN name_std {alias} ON {alias}.raw = {table}.{RAW[kind]}"
        for kind, (alias, _, _) in NAME_COLUMNS.items()
        if kind in kinds
    )


def name_kinds(ctx: RunContext, source: str | None = None) -> set[Kind]:
    """Name kinds declared (for one source: the ones it carries)."""
    kinds = {spec.kind for spec in ctx.config.linkage.fields.values() if spec.kind in NAME_PREFIX}
    if source is not None:
        kinds &= {b.kind for b in ctx.config.bindings(source)}
    return kinds


def load(ctx: RunContext) -> None:
    """Register each source's tables: identity values from the identity table, codes used as
    evidence and the report's subgroup fields from the content table."""
    for source in ctx.sources:
        given = ctx.inputs[source]
        identity = given.identity_table()
        present = set(identity.column_names)
        record_id = ctx.config.record_ids.get(source, "source_record_id")
        record_id = record_id if record_id in present else "source_record_id"
        missing = [c for c in ("record_code", record_id) if c not in present]
        if missing:
            raise ValueError(f"identity table of {source} lacks column(s) {', '.join(missing)}")
        person_id = ctx.config.person_id(source)
        bindings = ctx.config.bindings(source)
        wanted = {b.field for b in bindings} | {b.period for b in bindings if b.period is not None}
        kept = [q(c) for c in sorted(wanted & present)]
        has_person = person_id is not None and person_id in present
        person = f"CAST({q(person_id)} AS VARCHAR)" if has_person and person_id else "NULL::VARCHAR"
        ctx.con.register("arrow_in", identity)
        ctx.sql(
            f"""CREATE TABLE id_{source} AS SELECT record_code, CAST({q(record_id)} AS VARCHAR) AS source_record_id,
            {person} AS source_person_id
            {"".join(", " + c for c in kept)} FROM arrow_in"""
        )
        ctx.con.unregister("arrow_in")
        del identity
        content_wanted = set(CONTENT_USED) | (wanted - present)
        ctx.con.register("arrow_in", given.content_table(sorted(content_wanted)))
        ctx.sql(f"CREATE TABLE ct_{source} AS SELECT * FROM arrow_in")
        ctx.con.unregister("arrow_in")


def _value(binding: Binding, ctx: RunContext, in_content: set[str]) -> str:
    """SQL of the standardised record-level value of one bound identity field."""
    table = "c" if binding.field in in_content else "i"
    raw = f"{table}.{q(binding.field)}"
    spec = ctx.config.field(binding.identity)
    if binding.kind in RAW:
        return f"CAST({raw} AS VARCHAR)"
    if binding.kind is Kind.DATE:
        return dob_sql(raw)
    if binding.kind is Kind.POSTCODE:
        return postcode_sql(f"CAST({raw} AS VARCHAR)", spec.pattern)
    if binding.kind is Kind.ADDRESS:
        return address_sql(raw)
    if binding.kind is Kind.IDENTIFIER:
        text = f"NULLIF(trim(CAST({raw} AS VARCHAR)), '')"
        if spec.check is None and spec.pattern is None:
            return text
        rule = identifier_rule(spec.check) if spec.check is not None else None
        value = rule.normalised(text) if rule is not None else text
        valid = rule.valid(value) if rule is not None else f"regexp_full_match({value}, {lit(spec.pattern or '')})"
        return f"CASE WHEN {valid} THEN {value} END"
    if binding.kind is Kind.CODE_IN_PERIOD:
        period = f"{'c' if binding.period in in_content else 'i'}.{q(binding.period or '')}"
        return f"CAST({period} AS VARCHAR) || '|' || CAST({raw} AS VARCHAR)"
    if spec.mapping:
        cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in spec.mapping.items())
        return f"CASE CAST({raw} AS VARCHAR) {cases} END"
    return f"CAST({raw} AS VARCHAR)"


def standardise(ctx: RunContext) -> None:
    raw_names = [
        f"SELECT CAST(i.{q(b.field)} AS VARCHAR) AS raw FROM id_{s} i"
        for s in ctx.sources
        for b in ctx.config.bindings(s)
        if b.kind in RAW
    ]
    names: list[str] = []
    if raw_names:
        union = " UNION ".join(raw_names)
        names = [r[0] for r in ctx.rows(f"SELECT DISTINCT raw FROM ({union}) WHERE raw IS NOT NULL")]
    ctx.con.register("name_std", name_table(names))
    ctx.stats["distinct_names"] = len(names)
    for source in ctx.sources:
        in_identity = {r[0] for r in ctx.rows(f"DESCRIBE id_{source}")}
        in_content = {r[0] for r in ctx.rows(f"DESCRIBE ct_{source}")} - in_identity
        bindings = [b for b in ctx.config.bindings(source) if b.field in in_identity | in_content]
        selects = []
        for b in bindings:
            column = RAW.get(b.kind, b.identity)
            selects.append(f"{_value(b, ctx, in_content)} AS {column}")
            if b.kind is Kind.DATE:
                selects.append(f"strftime({_value(b, ctx, in_content)}, '%Y%m%d') AS {b.identity}_str")
        join = f"LEFT JOIN ct_{source} c ON c.record_code = i.record_code" if any(
            b.field in in_content or (b.period or "") in in_content for b in bindings
        ) else ""  # fmt: skip
        ctx.sql(
            f"""CREATE TABLE std_{source} AS
            SELECT i.record_code, i.source_record_id, i.source_person_id{"".join(", " + s for s in selects)}
            FROM id_{source} i {join}"""
        )
        ctx.sql(f"DROP TABLE id_{source}")  # std_ keeps every value review shows
        own = name_kinds(ctx, source)
        names_sql = name_select(own)
        ctx.sql(
            f"""CREATE VIEW stdn_{source} AS
            SELECT r.*{", " + names_sql if names_sql else ""} FROM std_{source} r {name_joins(own, "r")}"""
        )
        carried = set()
        for b in bindings:
            column = RAW.get(b.kind, b.identity)
            if ctx.scalar(f"SELECT count({column}) > 0 FROM std_{source}"):
                carried.add(b.identity)
        ctx.carried[source] = carried

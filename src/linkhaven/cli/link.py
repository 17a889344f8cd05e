"""CLI for the link stage: run linkage, review pairs, evaluate against truth, read the report.

`linkhaven link` runs linkage; its subcommands are `review list/show/decide`, `evaluate` and
`report`. Each makes one request to the service (whose library call checks the role, the spec and a
suspension, and audits) and prints a table or one JSON object; a run is a job the command follows.
"""

from __future__ import annotations

from pathlib import Path

import typer

from linkhaven.cli._common import JSON_OPTION, console, emit_json, emit_table, run_job, service

link_app = typer.Typer(
    help="Link the sources the spec declares: run, clerical review, evaluation, report.",
    invoke_without_command=True,
)
review_app = typer.Typer(
    help="Clerical review of the pairs between the spec's thresholds (linker).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    link_app.add_typer(review_app, name="review")
    app.add_typer(link_app, name="link")


@link_app.callback()
def link(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Link and de-duplicate the current deliveries as the spec declares; write the report (linker)."""
    if ctx.invoked_subcommand is not None:
        return
    client = service()
    result = run_job(client, client.submit("link"), json_out)
    if json_out:
        emit_json(result)
        return
    console.print(f"Linkage run {result['run_id']}: {result['records']:,} records, {result['persons']:,} persons "
                  f"({result['seconds']:.0f} s).")  # fmt: skip
    for source, rate in result["link_rates"].items():
        console.print(f"  {source}: {rate * 100:.2f}% of records linked")
    console.print(f"  clerical review: {result['review_pending']} pending, {result['review_carried']} carried over")
    console.print(f"Report (on the service's machine): {result['report_html']}")


@link_app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    truth: Path = typer.Option(
        ...,
        "--truth",
        help="Ground truth CSV: source, source_record_id (or record_id), true_entity_id (or person_id); "
        "e.g. synth's truth.csv.",
    ),
    pair: list[str] = typer.Option(
        [], "--pair", help="A pair to measure, SOURCE~SOURCE (repeatable); default: every declared link and dedupe."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Pairwise precision, recall and F1 per declared link or de-duplication, and cluster metrics."""
    if any("~" not in p for p in pair):
        raise typer.BadParameter("write each pair as SOURCE~SOURCE", param_hint="--pair")
    result = service().upload("/linkage/evaluate", truth, pair=pair)
    if json_out:
        emit_json(result)
        return
    keys = ("status", "precision", "recall", "f1", "tp", "fp", "fn")
    rows = [{"pair": name, **{k: "no data" if v is None else v for k, v in m.items() if k in keys}}
            for name, m in result["pairs"].items()]  # fmt: skip
    emit_table(f"Linkage quality, run {result['run_id']} (map v{result['map_version']})", rows)
    clusters = result["clusters"]
    if clusters["bcubed_f1"] is None:
        console.print("Clusters: no data (no truth record is in the map).")
    else:
        console.print(f"Persons recovered exactly: {clusters['persons_recovered_exactly']:,} of "
                      f"{clusters['true_persons']:,}; B-cubed F1 {clusters['bcubed_f1']:.5f}")  # fmt: skip


@link_app.command("report")
def report(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """The current run's linkage report (aggregate figures; linker and privacy officer)."""
    found = service().call("GET", "/linkage/report")
    if json_out:
        emit_json(found)
        return
    rows = [{"source": s, "records": v["records"], "persons": v["persons"], "link rate": v.get("link_rate", "-")}
            for s, v in found["link_rates"].items()]  # fmt: skip
    emit_table(f"Linkage run {found['run']['id']}", rows)


@review_app.command("list")
def review_list(
    ctx: typer.Context,
    all_pairs: bool = typer.Option(False, "--all", help="Every pair of the run, not only pending ones."),
    status: str = typer.Option("pending", "--status", help="pending, flagged or decided."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Pairs awaiting a decision: id, kind, probability, why queued (no identifiers)."""
    rows = service().call("GET", "/linkage/review", params={"status": "all" if all_pairs else status})
    if json_out:
        emit_json(rows)
    else:
        emit_table("Clerical review", rows, ["id", "kind", "match_probability", "queue_reason", "status", "decision"])


@review_app.command("show")
def review_show(
    ctx: typer.Context, pair_id: int = typer.Argument(..., help="Pair id."), json_out: bool = JSON_OPTION
) -> None:
    """The two records side by side, with per-field hints (linker only; reads the identity zone)."""
    shown = service().call("GET", f"/linkage/review/{pair_id}")
    if json_out:
        emit_json(shown)
        return
    console.print(f"Pair {shown['id']} ({shown['kind']}), probability {shown['match_probability']}, "
                  f"queued: {shown['queue_reason']}, status: {shown['status']}")  # fmt: skip
    emit_table("Side by side", shown["fields"], ["field", "left", "right", "comparison"])
    console.print(f"Records per source of each person now: {shown['persons']}")
    console.print("Decide with: linkhaven link review decide ID --decision match|non_match --reason CODE")


@review_app.command("decide")
def review_decide(
    ctx: typer.Context,
    pair_id: int = typer.Argument(..., help="Pair id."),
    decision: str = typer.Option(..., "--decision", help="match or non_match."),
    reason: str = typer.Option(..., "--reason", help="A reason code (see `review show`); no free text."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Decide a pair; a match writes a new map version. Audited."""
    done = service().call("POST", f"/linkage/review/{pair_id}", json={"decision": decision, "reason": reason})
    if json_out:
        emit_json(done)
    else:
        console.print(f"Pair {done['pair']}: {done['decision']} ({done['reason']}); map version {done['map_version']}, "
                      f"{done['records_moved']} record(s) moved.")  # fmt: skip

"""The linkage report: one JSON object and one self-contained HTML page, aggregate figures only.

The HTML embeds Splink's charts (parameters, match weights, waterfall) as Vega-Lite specs with the
Vega libraries inlined once, so the page works offline and fetches nothing from a CDN. The
waterfall is built with Splink's `remove_sensitive_data`, so no value of a record appears; every
other figure is a count, a share or a model parameter.
"""

from __future__ import annotations

import html
from typing import Any

from jinja2 import Environment, select_autoescape

from linkhaven.link.config import LinkConfig
from linkhaven.link.engine import EngineResult

REVIEW_REASONS = {
    "band": "probability between the review threshold and the accept threshold",
    "one_to_one": "above the accept threshold, but the target person is linked to another cluster",
    "identifier_conflict": "shares an identifier with a target person but clearly disagrees on names and date",
    "twin_guard": "same birth date but clearly different given names (twins look alike to the model)",
    "same_identity_two_identifiers": "two identifiers of one source with the same names, date and postcode",
}


def build_report(
    run_id: str,
    spec_sha: str,
    config: LinkConfig,
    result: EngineResult,
    inputs: dict[str, list[str]],
    software: str,
) -> dict[str, Any]:
    """The JSON report of a run (the HTML shows the same figures)."""
    stats = result.stats
    review: dict[str, dict[str, int]] = {}
    for candidate in result.review:
        review.setdefault(candidate.kind, {}).setdefault(candidate.queue_reason, 0)
        review[candidate.kind][candidate.queue_reason] += 1
    return {
        "run": {
            "id": run_id,
            "spec_sha256": spec_sha,
            "software": software,
            "deliveries": inputs,
            "thresholds": {
                "accept_probability": config.accept_probability,
                "review_lower_probability": config.review_lower_probability,
            },
            "blocking_rules": result.blocking_rules,
            "seconds_by_step": result.timings,
        },
        "link_rates": stats.get("link_rates", {}),
        "spine": stats.get("spine", {}),
        "deterministic": stats.get("deterministic", {}),
        "clusters": stats.get("clusters", {}),
        "models": stats.get("models", {}),
        "model_estimates": stats.get("model_estimates", {}),
        "subgroups": stats.get("subgroups", {}),
        "match_weight_histogram": stats.get("match_weight_histogram", {}),
        "review_queue": review,
        "charts": sorted(result.charts),
    }


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Linkage report {{ r.run.id }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.bar { display: inline-block; height: 0.8em; background: #4a7fb5; vertical-align: middle; }
.low { color: #a40000; font-weight: bold; }
code { background: #f4f4f4; padding: 0 0.2em; }
.chart { margin: 1em 0 2em; }
</style>
{% for lib in libraries %}<script>{{ lib | safe }}</script>
{% endfor %}
</head><body>
<h1>Linkage report {{ r.run.id }}</h1>
<p>Software: {{ r.run.software }}. Spec SHA-256 <code>{{ r.run.spec_sha256[:16] }}…</code>.
Accept at probability &ge; {{ r.run.thresholds.accept_probability }}; clerical review from
{{ r.run.thresholds.review_lower_probability }}; below that, not linked.</p>

<h2>Records and link rates by source</h2>
<table><tr><th>source</th><th>records</th><th>persons</th><th>deterministic</th><th>probabilistic</th>
<th>clerical</th><th>unlinked</th><th>link rate{{ " to the spine" if r.spine.source else "" }}</th></tr>
{% for source, v in r.link_rates.items() %}<tr><td>{{ source }}</td><td>{{ "{:,}".format(v.records) }}</td>
<td>{{ "{:,}".format(v.persons) }}</td>{% for m in methods %}<td>{{ "{:,}".format(v.by_method[m]) }}</td>{% endfor %}
<td>{{ pct(v.get("link_rate")) }}</td></tr>
{% endfor %}</table>

{% if r.spine.source %}<h2>Spine ({{ r.spine.source }}) deduplication</h2>
<table>{% for k, v in r.spine.items() if k != "source" %}<tr><td>{{ k | replace("_", " ") }}</td>
<td>{{ "{:,}".format(v) }}</td></tr>{% endfor %}</table>{% endif %}

<h2>Deterministic pass (shared identifier, corroborated)</h2>
<table><tr><th>source</th>{% for k in det_keys %}<th>{{ k | replace("_", " ") }}</th>{% endfor %}</tr>
{% for source, v in r.deterministic.items() %}<tr><td>{{ source }}</td>{% for k in det_keys %}
<td>{{ "{:,}".format(v[k]) if v[k] is number else "-" }}</td>{% endfor %}</tr>{% endfor %}</table>

<h2>Link rates by school year and subgroup</h2>
<p>Linkage that fails more often for some groups biases every finding after it: a group whose records
link less often looks smaller, and its outcomes are measured on a selected part of it. Rates more than
two points below the source's overall rate are marked.</p>
{% for source, dims in r.subgroups.items() if source != r.spine.source %}
<h3>{{ source }}</h3>
{% for dim, rows in dims.items() %}<table><tr><th>{{ dim | replace("_", " ") }}</th><th>records</th>
<th>linked</th><th>link rate</th><th></th></tr>
{% set overall = r.link_rates[source].get("link_rate") %}
{% for row in rows %}{% set low = row.link_rate is not none and overall is not none
 and row.link_rate < overall - 0.02 %}<tr><td>{{ row.value }}</td>
<td>{{ "{:,}".format(row.records) }}</td><td>{{ "{:,}".format(row.linked) }}</td>
<td{% if low %} class="low"{% endif %}>{{ pct(row.link_rate) }}</td>
<td><span class="bar" style="width: {{ ((row.link_rate or 0) * 12) | round(2) }}em"></span></td></tr>
{% endfor %}</table>{% endfor %}{% endfor %}
{% for source, dims in r.subgroups.items() if source == r.spine.source %}
<h3>{{ source }} (the spine: every record is a spine person's)</h3>
{% for dim, rows in dims.items() if dim == "school_year" %}<table><tr><th>school year</th><th>records</th>
<th>persons</th></tr>{% for row in rows %}<tr><td>{{ row.value }}</td><td>{{ "{:,}".format(row.records) }}</td>
<td>{{ "{:,}".format(row.persons) }}</td></tr>{% endfor %}</table>{% endfor %}{% endfor %}

<h2>Match-weight distribution</h2>
<p>Best candidate per record scored by the model (records linked by an identifier are scored only as training
labels); weights in bins of one.</p>
{% for source, bins in r.match_weight_histogram.items() %}<h3>{{ source }}</h3><table>
<tr><th>weight from</th><th>records</th><th></th></tr>
{% set top = (bins | map(attribute="records") | max) if bins else 1 %}
{% for b in bins %}<tr><td>{{ b.weight_from }}</td><td>{{ "{:,}".format(b.records) }}</td>
<td><span class="bar" style="width: {{ (b.records / top * 20) | round(2) }}em"></span></td></tr>{% endfor %}
</table>{% endfor %}

<h2>Model-estimated precision and recall</h2>
<p>The model's own expectation for its probabilistic links (sum of probabilities), not a measurement;
<code>linkhaven link evaluate</code> measures against ground truth where one exists.</p>
<table><tr><th>source pair</th><th>probabilistic links</th><th>expected true</th><th>expected missed</th>
<th>estimated precision</th><th>estimated recall</th></tr>
{% for pair, e in r.model_estimates.items() %}<tr><td>{{ pair }}</td><td>{{ "{:,}".format(e.probabilistic_links) }}</td>
<td>{{ e.expected_true_links }}</td><td>{{ e.expected_missed_links }}</td><td>{{ pct(e.estimated_precision, 2) }}</td>
<td>{{ pct(e.estimated_recall, 2) }}</td></tr>{% endfor %}</table>

<h2>Models</h2>
<table><tr><th>source pair</th><th>records scored</th><th>training</th><th>labelled records</th>
<th>pairs scored</th><th>prior (two random records match)</th></tr>
{% for pair, m in r.models.items() %}<tr><td>{{ pair }}</td><td>{{ "{:,}".format(m.records_scored) }}</td>
<td>{{ m.training }}</td><td>{{ "{:,}".format(m.labelled_records or 0) }}</td>
<td>{{ "{:,}".format(m.pairs_scored_above_floor or 0) }}</td>
<td>{{ "%.3g" | format(m.probability_two_random_records_match or 0) }}</td></tr>{% endfor %}</table>
{% for pair, rules in r.run.blocking_rules.items() %}<p>Blocking rules for {{ pair }}:</p><ul>
{% for rule in rules %}<li><code>{{ rule }}</code></li>{% endfor %}</ul>{% endfor %}

{% for name, spec in charts %}<div class="chart"><h3>{{ name }}</h3><div id="chart{{ loop.index }}"></div>
<script>vegaEmbed("#chart{{ loop.index }}", {{ spec | safe }}, {"actions": false}).catch(console.error);</script>
</div>{% endfor %}

<h2>Clerical review queue</h2>
<table><tr><th>pair</th><th>reason</th><th>pairs</th></tr>
{% for kind, reasons in r.review_queue.items() %}{% for reason, n in reasons.items() %}<tr><td>{{ kind }}</td>
<td>{{ review_reasons.get(reason, reason) }}</td><td>{{ n }}</td></tr>{% endfor %}{% endfor %}</table>
<p>Pairs are shown side by side only to the linker role (<code>linkhaven link review show ID</code>).</p>
</body></html>
"""


def _pct(value: object, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%" if isinstance(value, int | float) else "-"


def render_html(report: dict[str, Any], charts: dict[str, dict[str, Any]]) -> str:
    """The report as one HTML page with the Vega libraries and the chart specs inlined."""
    from splink.internals.html_utils import json_for_html, load_chart_libraries

    libraries = load_chart_libraries()  # type: ignore[no-untyped-call]
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_TEMPLATE)
    ordered = [libraries[name] for name in ("vega", "vega-lite", "vega-embed")]
    page = template.render(
        r=report,
        libraries=[lib.replace("</script", "<\\/script") for lib in ordered],
        charts=[
            (html.escape(name), json_for_html(spec))  # type: ignore[no-untyped-call]
            for name, spec in sorted(charts.items())
        ],
        methods=("deterministic", "probabilistic", "clerical", "unlinked"),
        det_keys=("records_with_identifier", "linked", "conflicts_flagged", "identifier_not_in_target"),
        pct=_pct,
        review_reasons=REVIEW_REASONS,
    )
    return page

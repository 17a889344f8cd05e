"""Splink's charts of a fitted model, as Vega-Lite specs for the report (no personal values)."""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from linkhaven.link import model as splink_model

log = logging.getLogger(__name__)


def model_charts(con: duckdb.DuckDBPyConnection, run: splink_model.ModelRun, pair: str) -> dict[str, dict[str, Any]]:
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

"""The two reports of a publication: one for ministries, societies and boards, one for young readers.

Both are single HTML files with every chart drawn here as inline SVG: no script, no font, no CDN,
nothing fetched, so they open offline and can be mailed or printed as they are. Both are built
from the published table rows only (the CSV values after suppression and rounding), never from
the true counts, so a report can show nothing the tables hide. Every hidden figure is shown the
same way, with the same words: a report never says why one was hidden ("too few students" would
tell the reader the count is small, which the tables do not).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from linkhaven.spec.indicators import ALL, IndicatorSet, Wording

if TYPE_CHECKING:
    from linkhaven.publish.audit import AuditResult
    from linkhaven.publish.protection import Protected
    from linkhaven.publish.settings import Settings

PUBLISHED = "published"
HIDDEN = "hidden"
"""How every hidden figure reads in both reports, whatever hid it."""
HIDDEN_IN_CHART = "hidden to protect privacy"
MAIN_STATISTIC = {"share": "percent_meeting", "mean": "mean_percent"}
"""The statistic each measure kind shows; a count shows the count itself (`wording.counted`)."""

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("linkhaven.publish", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Bar:
    label: str
    value: float | None
    """None where the figure is hidden."""


def _focus(indicators: IndicatorSet, present: set[str]) -> str:
    """The status the young readers' report is about: in care, or the narrowest group holding it that
    the tables report (a release may have generalised the care statuses to "involved")."""
    status = indicators.status
    focus = "in_care" if "in_care" in status.codes() else status.leaves[0]
    while focus not in present:
        parent = next((p for p, members in status.hierarchy.items() if focus in members), None)
        if parent is None:
            break
        focus = parent
    return focus


def bar_chart(bars: Sequence[Bar], title: str, unit: str, large: bool = False, maximum: float | None = None) -> str:
    """A horizontal bar chart as an SVG string; hidden figures are marked (all alike), never drawn."""
    font = 22 if large else 13
    bar_height = 34 if large else 20
    gap = 14 if large else 8
    label_width = 420 if large else 330
    plot_width = 360 if large else 380
    width = label_width + plot_width + 120
    top = font * 2 + 6
    height = top + len(bars) * (bar_height + gap) + 10
    values = [b.value for b in bars if b.value is not None]
    top_value = maximum or (max(values) if values else 1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="0" y="{font + 2}" font-size="{font + 2}" font-weight="bold" fill="#1a1a1a">'
        f"{html.escape(title)}</text>",
    ]
    for position, bar in enumerate(bars):
        y = top + position * (bar_height + gap)
        middle = y + bar_height / 2 + font / 3
        parts.append(
            f'<text x="{label_width - 10}" y="{middle:.1f}" font-size="{font}" text-anchor="end" '
            f'fill="#1a1a1a">{html.escape(bar.label)}</text>'
        )
        if bar.value is None:
            parts.append(
                f'<text x="{label_width}" y="{middle:.1f}" font-size="{font}" font-style="italic" '
                f'fill="#555">{HIDDEN_IN_CHART}</text>'
            )
            continue
        length = max(1.0, plot_width * bar.value / top_value)
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="#1f5f8b" rx="2"/>'
        )
        shown = f"{bar.value:,.0f}" if unit == "" else f"{bar.value:.1f}{unit}"
        parts.append(
            f'<text x="{label_width + length + 8:.1f}" y="{middle:.1f}" font-size="{font}" '
            f'fill="#1a1a1a">{shown}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _margin_rows(rows: Sequence[Mapping[str, str]], breakdown_column: str, statistic: str) -> list[Mapping[str, str]]:
    return [r for r in rows if r[breakdown_column] == ALL and r["statistic"] == statistic]


def _value(row: Mapping[str, str] | None) -> float | None:
    if row is None or row["status"] != PUBLISHED or row["value"] == "":
        return None
    return float(row["value"])


def write_reports(
    folder: Path,
    protected: Protected,
    settings: Settings,
    indicators: IndicatorSet,
    rendered: Mapping[str, list[dict[str, str]]],
    meta: Mapping[str, Any],
    code_names: Mapping[str, Mapping[str, str]],
    audit: AuditResult,
) -> None:
    """Write report.html and report-young-readers.html into `folder`; `audit` is the reader's audit (the
    one `audit.json` gives)."""
    from linkhaven.publish.files import REPORT, YOUNG_REPORT

    status_col, period, wording = indicators.status.column, indicators.period, indicators.wording
    statuses = indicators.status.codes()
    sections: list[dict[str, Any]] = []
    young: list[dict[str, Any]] = []
    for measure in indicators.measures:
        tables = [t for t in protected.computed.tables if t.measure.id == measure.id]
        if not tables:
            continue
        table = tables[0]
        statistic = MAIN_STATISTIC.get(measure.kind, wording.counted)
        rows = _margin_rows(rendered[table.name], table.breakdown_column, statistic)
        years = sorted({r[period] for r in rows})
        if not years:
            continue
        unit = "" if measure.kind == "count" else "%"
        by_key = {(r[period], r[status_col]): r for r in rows}
        focus = _focus(indicators, {r[status_col] for r in rows})
        latest = years[-1]
        chart = bar_chart(
            [
                Bar(indicators.status.label_of(s), _value(by_key.get((latest, s))))
                for s in statuses
                if (latest, s) in by_key
            ],
            f"{measure.title}, {latest}" if indicators.declared_period else measure.title,
            unit,
            maximum=100.0 if unit == "%" else None,
        )
        grid = [
            {
                "status": indicators.status.label_of(s),
                "values": [_format(by_key.get((y, s)), unit) for y in years],
            }
            for s in statuses
        ]
        sections.append(
            {
                "id": measure.id,
                "title": measure.title,
                "chart": chart,
                "years": years,
                "grid": grid,
                "tables": [{"name": t.name, "breakdown": indicators.breakdowns[t.breakdown].label} for t in tables],
            }
        )
        root = indicators.status.root
        focus_value = _value(by_key.get((latest, focus)))
        root_value = _value(by_key.get((latest, root)))
        young.append(
            {
                "question": measure.plain_title,
                "chart": bar_chart(
                    [
                        Bar(indicators.status.plain_label_of(focus), focus_value),
                        Bar(indicators.status.plain_label_of(root), root_value),
                    ],
                    f"{wording.period_name.capitalize()} {latest}" if indicators.declared_period else "",
                    unit,
                    large=True,
                    maximum=100.0 if unit == "%" else None,
                ),
                "sentences": _plain_sentences(
                    wording,
                    measure.kind,
                    indicators.status.plain_label_of(focus),
                    indicators.status.plain_label_of(root),
                    latest if indicators.declared_period else None,
                    focus_value,
                    root_value,
                ),
            }
        )
    hidden = int(((protected.status != 0) & protected.current).sum())
    context = {
        "meta": meta,
        "settings": settings,
        "sections": sections,
        "young": young,
        "audit": audit,
        "cells": int(protected.current.sum()),
        "hidden": hidden,
        "earlier": protected.earlier,
        "status_labels": [(s, indicators.status.label_of(s)) for s in statuses],
        "wording": wording,
        "status_heading": indicators.status.label,
        "per_period": f" in a {wording.period_name}" if indicators.declared_period else "",
    }
    (folder / REPORT).write_text(_env.get_template("report.html.j2").render(**context), encoding="utf-8")
    (folder / YOUNG_REPORT).write_text(_env.get_template("young.html.j2").render(**context), encoding="utf-8")


def _format(row: Mapping[str, str] | None, unit: str) -> str:
    if row is None:
        return "–"
    if row["status"] != PUBLISHED:
        return HIDDEN
    value = float(row["value"])
    return f"{value:,.0f}" if unit == "" else f"{value:.1f}{unit}"


def _plain_sentences(
    wording: Wording,
    kind: str,
    focus: str,
    everyone: str,
    year: str | None,
    focus_value: float | None,
    root_value: float | None,
) -> list[str]:
    """Short sentences, one idea each, from published figures only. `year` is None without periods."""
    out: list[str] = []
    when = f"In {year}, w" if year is not None else "W"
    if kind == "count":
        if focus_value is not None and focus != everyone:
            out.append(f"{when}e counted {focus_value:,.0f} {focus.lower()}.")
        if root_value is not None:
            out.append(f"There were {root_value:,.0f} {wording.counted.replace('_', ' ')} in all.")
    else:
        groups = [(focus, focus_value)] + ([(everyone, root_value)] if everyone != focus else [])
        out.extend(f"{who}: about {round(value):.0f} out of every 100." for who, value in groups if value is not None)
    if focus_value is None:
        out.append(f"We do not show the number for {focus.lower()}{' this ' + wording.period_name if year else ''}.")
        out.append(f"We hide some numbers so that nobody can find out about any one {wording.counted_one}.")
    return out

"""Render the public notice of indirect collection (R7, R8) from a project spec.

The notice is built from the same spec that drives intake, so it lists exactly the sources,
categories and recipients the software works with. Sentences are assembled here once, as plain
text blocks, and the Markdown and HTML templates only lay them out: the two formats cannot say
different things. The unit's own wording (statements, category texts, names) comes from the spec.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import jinja2

from linkhaven.spec.project import ProjectSpec
from linkhaven.spec.vocabulary import DataClass, Purpose, RecipientKind, join_and

PURPOSE_WORDING = {
    Purpose.RESOURCE_MANAGEMENT: "the management or allocation of resources",
    Purpose.PROGRAM_PLANNING: "planning for the delivery of programs and services",
    Purpose.PROGRAM_EVALUATION: "evaluating programs and services",
}
"""How a notice words each FIPPA Part III.1 purpose (R1)."""

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


class NoticeFormat(StrEnum):
    MD = "md"
    HTML = "html"


BlockKind = Literal["paragraph", "bullets", "numbered", "address"]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    items: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class NoticeDocument:
    """The notice as text blocks, independent of the output format."""

    title: str
    dates: tuple[str, ...]
    sections: tuple[Section, ...]
    email: str


def _long_date(day: dt.date) -> str:
    # Not strftime: month names would follow the machine's locale.
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _article(abbreviation: str) -> str:
    # Initialisms are read letter by letter: "an IMDIU", "an MOH unit", "a DIU".
    return "an" if abbreviation[:1].upper() in "AEFHILMNORSX" else "a"


def _paragraph(text: str) -> Block:
    return Block("paragraph", (text,))


def _recipients_text(names: Sequence[tuple[RecipientKind, str]]) -> str:
    """Ministries are joined with 'and' first: their names carry commas, which a flat list would blur."""
    ministries = [name for kind, name in names if kind is RecipientKind.MINISTRY]
    others = [name for kind, name in names if kind is not RecipientKind.MINISTRY]
    return join_and(([join_and(ministries)] if ministries else []) + others)


def build_notice(spec: ProjectSpec) -> NoticeDocument:
    """Assemble the notice's text; every sentence either quotes the spec or is built from its data."""
    project, notice = spec.project, spec.notice
    unit = project.unit_abbreviation
    dates = []
    if notice.last_revised is not None:
        dates.append(f"Revised: {_long_date(notice.last_revised)}")
    dates.append(f"Originally published: {_long_date(notice.originally_published)}")

    collected = Section(
        "Information collected",
        (
            _paragraph(
                f"As the {project.unit} ({unit}) within the {project.ministry} ({project.ministry_abbreviation}), "
                f"the {project.division} (the “Division”) indirectly collects personal information for the "
                f"purposes of data integration from {notice.collected_from.rstrip('.')}."
            ),
            _paragraph(
                f"In its role as {_article(unit)} {unit}, the Division is collecting personal information about:"
            ),
            Block("numbered", tuple(spec.population_text(population) for population in spec.populations)),
            _paragraph("This information comes from the following data sources:"),
            Block("bullets", tuple(f"{source.system} — {source.institution}" for source in spec.sources.values())),
            _paragraph(f"The personal information collected indirectly as {_article(unit)} {unit} includes:"),
            Block("bullets", tuple(spec.category_text(category) for category in spec.categories)),
        ),
    )

    access_blocks = [
        _paragraph(
            f"Personal information is only disclosed to members of the {unit} within {project.ministry_abbreviation} "
            f"in the performance of their duties in connection with the {spec.legal_authority.act}, "
            f"Part {spec.legal_authority.part}."
            + (
                f" The {unit} within {project.ministry_abbreviation} may further disclose personal information it "
                "collects:"
                if spec.disclosure_bases
                else f" The {unit} does not further disclose the personal information it collects."
            )
        )
    ]
    if spec.disclosure_bases:
        access_blocks.append(Block("bullets", tuple(spec.disclosure_bases.values())))
    analysts = [r.name for r in spec.recipients.values() if r.kind is RecipientKind.INTERNAL_ANALYST]
    deidentification = notice.deidentification_statement
    if analysts:
        deidentification += (
            f" The dataset resulting from this exercise will be disclosed to {join_and(analysts)} for analysis."
        )
    access_blocks.append(_paragraph(deidentification))
    aggregate = [
        (r.kind, r.name)
        for r in spec.recipients.values()
        if DataClass.AGGREGATE in r.data_classes and r.kind is not RecipientKind.INTERNAL_ANALYST and not r.through
    ]
    indirect = [r.name for r in spec.recipients.values() if r.through]
    findings = ""
    if aggregate:
        findings = f"Aggregate findings from the analysis will be reported to {_recipients_text(aggregate)}"
        if indirect:
            findings += (
                f", to be included with material that can be shared with {join_and(indirect)} through these "
                "organizations"
            )
        findings += ". "
    findings += (
        f"The {unit} is collecting this personal information for the purpose of {PURPOSE_WORDING[spec.purpose]}. "
        f"{spec.purpose_statement}"
    )
    access_blocks.append(_paragraph(findings))
    access = Section("Who has access to the collected personal information", tuple(access_blocks))

    sections = " and ".join(f"section {number}" for number in spec.legal_authority.sections)
    privacy = Section(
        "Data and privacy",
        (
            _paragraph(notice.data_standards_statement),
            _paragraph(
                f"The ministry is authorized to indirectly collect this personal information under {sections} "
                f"of the {spec.legal_authority.act}."
            ),
        ),
    )

    contact = spec.contact
    contact_section = Section(
        "Contact information",
        (
            _paragraph(notice.contact_intro),
            Block(
                "address",
                (
                    contact.title,
                    contact.unit,
                    contact.division,
                    contact.ministry,
                    *contact.address_lines,
                    *([contact.postal_code] if contact.postal_code else []),
                ),
            ),
        ),
    )
    return NoticeDocument(
        title=notice.title,
        dates=tuple(dates),
        sections=(collected, access, privacy, contact_section),
        email=contact.email,
    )


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("linkhaven.spec", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_notice(spec: ProjectSpec, fmt: NoticeFormat | str) -> str:
    """The notice as Markdown or as one self-contained HTML page (no external CSS, scripts or fonts)."""
    fmt = NoticeFormat(fmt)
    text = _environment.get_template(f"notice.{fmt.value}.j2").render(doc=build_notice(spec))
    # Jinja's control lines leave runs of blank lines that Markdown readers show as-is in diffs.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n" if fmt is NoticeFormat.MD else text

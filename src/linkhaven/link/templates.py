"""Comparison templates, one per identity-field kind: the levels a comparison has unless the spec
overrides them (`linkage.comparisons[].levels`).

The name, date and postcode templates are the graded levels tuned on the Ontario project's
sources; they are written over the standardised columns the kinds produce (docs/linkage.md), so
any spec that declares those kinds gets them:
- names: exact (with term-frequency adjustment, so a match on a rare name counts for more than one
  on Smith), swapped with the other name field, equivalent (nickname, other-language form), one
  part of the other, Jaro-Winkler, phonetic;
- dates: exact, day and month exchanged, one digit off or two digits transposed, one part off;
- postcodes: any in common (a target person's every postcode), then each coarser prefix;
- addresses: exact (term-frequency adjusted), Jaro-Winkler bands; identifiers: exact, one typo;
  codes: exact; codes within a period: any in common.
"""

from __future__ import annotations

from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl

from linkhaven.spec.linkage import Comparison, IdentityField, Kind

NAME_SWAP = "Names swapped (given <-> family)"
SWAPPED = '"given_joined_l" = "family_joined_r" AND "family_joined_l" = "given_joined_r"'


def _given(tf: bool, with_family: bool) -> list[Any]:
    levels: list[Any] = [cll.ExactMatchLevel("given_std", term_frequency_adjustments=tf)]
    if with_family:
        # Swapped names count once, here, and only when both names moved: one name that happens
        # to equal the other field (Thomas, James) is common among non-matches. Both at once is so
        # rare among non-matches that random sampling may never see it, which left u unestimated
        # and the weight unstable between runs; u is fixed at 1e-6, above the product of the two
        # one-way rates (about 1e-7), i.e. conservative.
        levels.append(
            cll.CustomLevel(SWAPPED, label_for_charts=NAME_SWAP).configure(u_probability=1e-6, fix_u_probability=True)
        )
    return [
        *levels,
        cll.CustomLevel('list_has_any("given_groups_l", "given_groups_r")',
                        label_for_charts="Equivalent: short form or other-language form"),
        cll.CustomLevel('list_has_all("given_tokens_l", "given_tokens_r") OR '
                        'list_has_all("given_tokens_r", "given_tokens_l")',
                        label_for_charts="One is part of the other (compound given name)"),
        cll.JaroWinklerLevel("given_std", 0.92),
        cll.CustomLevel('"given_phon_l" = "given_phon_r" OR jaro_winkler_similarity("given_std_l", "given_std_r") '
                        ">= 0.8", label_for_charts="Same phonetic key or Jaro-Winkler >= 0.8"),
    ]  # fmt: skip


def _family(tf: bool, with_given: bool) -> list[Any]:
    levels: list[Any] = [cll.ExactMatchLevel("family_joined", term_frequency_adjustments=tf)]
    if with_given:  # neutral by construction: the swap's evidence is counted with the given name
        levels.append(
            cll.CustomLevel(SWAPPED, label_for_charts=NAME_SWAP + " (counted with the given name)").configure(
                m_probability=0.5, u_probability=0.5, fix_m_probability=True, fix_u_probability=True
            )
        )
    return [
        *levels,
        cll.CustomLevel('"family_core_l" = "family_core_r" OR list_has_all("family_tokens_l", "family_tokens_r") '
                        'OR list_has_all("family_tokens_r", "family_tokens_l")',
                        label_for_charts="Same without particles, or one part of a compound name"),
        cll.JaroWinklerLevel("family_joined", 0.92),
        cll.CustomLevel('"family_phon_l" = "family_phon_r" OR jaro_winkler_similarity("family_joined_l", '
                        '"family_joined_r") >= 0.8', label_for_charts="Same phonetic key or Jaro-Winkler >= 0.8"),
    ]  # fmt: skip


def _middle(tf: bool) -> list[Any]:
    return [
        cll.ExactMatchLevel("middle_joined", term_frequency_adjustments=tf),
        cll.JaroWinklerLevel("middle_joined", 0.92),
        cll.CustomLevel('"middle_phon_l" = "middle_phon_r" OR left("middle_joined_l", 1) = left("middle_joined_r", 1)',
                        label_for_charts="Same phonetic key or same initial"),
    ]  # fmt: skip


def _date(name: str) -> list[Any]:
    a, b, sa, sb = f'"{name}_l"', f'"{name}_r"', f'"{name}_str_l"', f'"{name}_str_r"'
    return [
        cll.ExactMatchLevel(name),
        cll.CustomLevel(f"year({a}) = year({b}) AND month({a}) = day({b}) AND day({a}) = month({b})",
                        label_for_charts="Day and month exchanged"),
        cll.CustomLevel(f"damerau_levenshtein({sa}, {sb}) <= 1",
                        label_for_charts="One digit wrong or two adjacent digits transposed"),
        cll.CustomLevel(f"(year({a}) = year({b}) AND (month({a}) = month({b}) OR day({a}) = day({b}))) "
                        f"OR (month({a}) = month({b}) AND day({a}) = day({b}) AND abs(year({a}) - year({b})) = 1)",
                        label_for_charts="One of year, month, day differs"),
    ]  # fmt: skip


def _postcode(name: str, prefixes: tuple[int, ...]) -> list[Any]:
    levels = [cll.ArrayIntersectLevel(f"{name}_set", 1).configure(label_for_charts="Postcode in common")]
    for n in prefixes:
        levels.append(
            cll.ArrayIntersectLevel(f"{name}_p{n}", 1).configure(label_for_charts=f"First {n} character(s) in common")
        )
    return levels


def _text(name: str, tf: bool) -> list[Any]:
    return [
        cll.ExactMatchLevel(name, term_frequency_adjustments=tf),
        cll.JaroWinklerLevel(name, 0.92),
        cll.JaroWinklerLevel(name, 0.8),
    ]


def template_levels(name: str, spec: IdentityField, tf: bool | None, kinds: set[Kind]) -> list[Any]:
    """The levels of a kind's template between "missing" and "all other"."""
    names_tf = True if tf is None else tf
    if spec.kind is Kind.GIVEN_NAME:
        return _given(names_tf, Kind.FAMILY_NAME in kinds)
    if spec.kind is Kind.FAMILY_NAME:
        return _family(names_tf, Kind.GIVEN_NAME in kinds)
    if spec.kind is Kind.MIDDLE_NAME:
        return _middle(names_tf)
    if spec.kind is Kind.DATE:
        return _date(name)
    if spec.kind is Kind.POSTCODE:
        return _postcode(name, spec.prefixes)
    if spec.kind is Kind.ADDRESS:
        return _text(name, names_tf)
    if spec.kind is Kind.IDENTIFIER:
        return [
            cll.ExactMatchLevel(name, term_frequency_adjustments=bool(tf)),
            cll.CustomLevel(f'damerau_levenshtein("{name}_l", "{name}_r") <= 1', label_for_charts="One typo"),
        ]
    if spec.kind is Kind.CODE_IN_PERIOD:
        return [cll.ArrayIntersectLevel(f"{name}_set", 1).configure(label_for_charts="Same code in the same period")]
    return [cll.ExactMatchLevel(name, term_frequency_adjustments=bool(tf))]


NULL_COLUMN = {
    Kind.GIVEN_NAME: "given_std", Kind.FAMILY_NAME: "family_joined", Kind.MIDDLE_NAME: "middle_joined",
}  # fmt: skip


def null_column(name: str, kind: Kind) -> str:
    if kind in NULL_COLUMN:
        return NULL_COLUMN[kind]
    if kind in (Kind.POSTCODE, Kind.CODE_IN_PERIOD):
        return f"{name}_set"
    return name


def build_comparison(comparison: Comparison, spec: IdentityField, kinds: set[Kind]) -> Any:
    """A Splink comparison for one declared comparison: the kind's template or the spec's levels."""
    name = comparison.field
    if comparison.levels is None:
        levels = template_levels(name, spec, comparison.term_frequency, kinds)
    else:
        levels = []
        for level in comparison.levels:
            custom = cll.CustomLevel(level.sql, label_for_charts=level.label)
            options: dict[str, Any] = {}
            if level.term_frequency is not None:
                options.update(tf_adjustment_column=level.term_frequency, tf_adjustment_weight=1.0)
            if level.m_probability is not None:
                options.update(m_probability=level.m_probability, fix_m_probability=True)
            if level.u_probability is not None:
                options.update(u_probability=level.u_probability, fix_u_probability=True)
            levels.append(custom.configure(**options) if options else custom)
    return cl.CustomComparison(
        output_column_name=name,
        comparison_description=f"{name} ({spec.kind})",
        comparison_levels=[cll.NullLevel(null_column(name, spec.kind)), *levels, cll.ElseLevel()],
    )

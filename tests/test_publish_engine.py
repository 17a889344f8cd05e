"""The protection engine on hand-made tables: primary rules, complementary suppression, the gate, the ledger.

Each case is small enough to check by hand, so a failure points at the rule, not at the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkhaven.publish import lp
from linkhaven.publish.audit import Knowledge, audit
from linkhaven.publish.cells import CellSystem, Status, SumKind, public_mark
from linkhaven.publish.indicators import Computed
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.protection import extend_ledger, gate, protect
from linkhaven.publish.reader import ReaderView, UnknownMark
from linkhaven.publish.settings import PublicationRefused, Settings
from linkhaven.publish.suppress import Rules, primary

P = 10


@dataclass
class Grid:
    """A two-way table with row, column and grand totals, built as cells and sums."""

    system: CellSystem
    cell: dict[tuple[object, object], int]

    @property
    def computed(self) -> Computed:
        return Computed(self.system, [], np.zeros(len(self.system), dtype=bool), [], 0)


def grid(values: list[list[int]], name: str = "t", column_kind: SumKind = SumKind.STATUS) -> Grid:
    """Rows are breakdown codes r0.., columns statuses c0..; 'T' marks a total."""
    system = CellSystem()
    cell: dict[tuple[object, object], int] = {}
    array = np.asarray(values)
    rows, cols = array.shape
    for r in range(rows):
        for c in range(cols):
            cell[r, c] = system.add_cell(f"{name}|r={r}|c={c}", int(array[r, c]), name)
        cell[r, "T"] = system.add_cell(f"{name}|r={r}", int(array[r].sum()), name, 5.0)
    for c in range(cols):
        cell["T", c] = system.add_cell(f"{name}|c={c}", int(array[:, c].sum()), name, 5.0)
    cell["T", "T"] = system.add_cell(f"{name}|", int(array.sum()), name, 20.0)
    for r in [*range(rows), "T"]:
        system.add_sum(cell[r, "T"], [cell[r, c] for c in range(cols)], column_kind)
    for c in [*range(cols), "T"]:
        system.add_sum(cell["T", c], [cell[r, c] for r in range(rows)], SumKind.BREAKDOWN)
    system.check_additive()
    return Grid(system, cell)


def widths(system: CellSystem, status: np.ndarray) -> dict[int, float]:
    result = audit(system, Knowledge.exact(system.value_array(), status), P)
    return {int(i): float(result.upper[i] - result.lower[i]) for i in np.flatnonzero(result.audited)}


SETTINGS = Settings(min_cell_size=P, protection_level=P, rounding_base=None)


# -- primary rules --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([[3, 20], [25, 22]], {(0, 0)}),  # below the minimum
        ([[0, 20], [25, 22]], set()),  # a zero alone is not primary
        ([[10, 20], [25, 22]], set()),  # at the minimum is publishable
        ([[9, 1], [25, 22]], {(0, 0), (0, 1)}),  # every small cell, margins included
    ],
)
def test_primary_small_cells(values: list[list[int]], expected: set[tuple[int, int]]) -> None:
    g = grid(values, column_kind=SumKind.BREAKDOWN)
    current = np.ones(len(g.system), dtype=bool)
    status = primary(g.system, Rules(P, P), current, np.zeros(len(g.system), dtype=bool))
    found = {key for key, index in g.cell.items() if status[index] == Status.PRIMARY}
    assert {k for k in found if "T" not in k} == expected


def test_full_cell_discloses_the_group_and_is_primary() -> None:
    # Row 0: every student of the group has status c0 (40 of 40), a 100 % attribute disclosure.
    g = grid([[40, 0], [25, 22]])
    current = np.ones(len(g.system), dtype=bool)
    status = primary(g.system, Rules(P, P), current, np.zeros(len(g.system), dtype=bool))
    assert status[g.cell[0, 0]] == Status.PRIMARY
    allowed = primary(g.system, Rules(P, P, full_cells=False), current, np.zeros(len(g.system), dtype=bool))
    assert allowed[g.cell[0, 0]] == Status.PUBLISHED
    exempt = np.zeros(len(g.system), dtype=bool)
    exempt[g.cell[0, 0]] = True  # e.g. 'not involved': a group entirely not involved discloses nothing
    assert primary(g.system, Rules(P, P), current, exempt)[g.cell[0, 0]] == Status.PUBLISHED


# -- complementary suppression and the gate -------------------------------------------------
@pytest.mark.parametrize(
    "values",
    [
        [[3, 20, 30], [25, 22, 40], [30, 35, 50]],  # the textbook case: a 4-cycle is needed
        [[3, 4, 30], [25, 22, 40], [30, 35, 50]],  # two small cells in one row: their sum is small too
        [[3, 20], [25, 22]],  # 2 x 2: everything but the grand total moves
        [[2, 40, 0, 31], [0, 12, 5, 60], [44, 0, 19, 7]],  # zeros cannot go down
        [[12, 12, 12], [12, 1, 12], [12, 12, 12]],  # a small cell whose neighbours are just above the minimum
    ],
)
def test_complementary_suppression_protects_every_hidden_cell(values: list[list[int]]) -> None:
    g = grid(values)
    protected = protect(g.computed, SETTINGS)
    gate(protected)  # does not raise
    hidden = np.flatnonzero(protected.status != Status.PUBLISHED)
    assert len(hidden) >= 2 or not (protected.status == Status.PRIMARY).any()
    for index, width in widths(g.system, protected.status).items():
        assert width >= P, (g.system.keys[index], width)
    values_arr = g.system.value_array()
    published = protected.status == Status.PUBLISHED
    assert not ((values_arr > 0) & (values_arr < P) & published).any()


def test_the_gate_refuses_a_table_without_complementary_suppression() -> None:
    g = grid([[3, 20, 30], [25, 22, 40], [30, 35, 50]])
    unprotected = protect(g.computed, Settings(P, P, None, secondary=False))
    assert not unprotected.audit.passed
    assert unprotected.audit.lower[g.cell[0, 0]] == unprotected.audit.upper[g.cell[0, 0]] == 3
    with pytest.raises(PublicationRefused, match="attacker audit refuses"):
        gate(unprotected)


def test_hierarchy_needs_protection_at_every_level() -> None:
    # Status hierarchy: all = involved + other; involved = a + b. A small 'a' must not follow from
    # involved - b, nor from all - other - b.
    system = CellSystem()
    codes = ["x", "y", "z"]
    data = {"a": [3, 14, 22], "b": [18, 11, 30], "other": [400, 380, 500]}
    cell: dict[tuple[str, str], int] = {}
    for status, row in data.items():
        for code, value in zip(codes, row, strict=True):
            cell[status, code] = system.add_cell(f"s={status}|g={code}", value, "h")
    for code_index, code in enumerate(codes):
        involved = data["a"][code_index] + data["b"][code_index]
        cell["involved", code] = system.add_cell(f"s=involved|g={code}", involved, "h")
        cell["all", code] = system.add_cell(f"s=all|g={code}", involved + data["other"][code_index], "h")
    for status in ["a", "b", "other", "involved", "all"]:
        total = sum(system.values[cell[status, c]] for c in codes)
        cell[status, "T"] = system.add_cell(f"s={status}", total, "h", 5.0)
        system.add_sum(cell[status, "T"], [cell[status, c] for c in codes], SumKind.BREAKDOWN)
    for code in [*codes, "T"]:
        system.add_sum(cell["involved", code], [cell["a", code], cell["b", code]], SumKind.STATUS)
        system.add_sum(cell["all", code], [cell["involved", code], cell["other", code]], SumKind.STATUS)
    system.check_additive()
    computed = Computed(system, [], np.zeros(len(system), dtype=bool), [], 0)
    protected = protect(computed, SETTINGS)
    gate(protected)
    assert protected.status[cell["a", "x"]] == Status.PRIMARY
    assert all(w >= P for w in widths(system, protected.status).values())


def test_warm_started_highs_and_linprog_agree() -> None:
    g = grid([[3, 20, 30, 8], [25, 22, 40, 1], [30, 35, 50, 12]])
    protected = protect(g.computed, SETTINGS)
    knowledge = Knowledge.exact(g.system.value_array(), protected.status)
    warm = audit(g.system, knowledge, P)
    try:
        lp.USE_WARM_START = False
        reference = audit(g.system, knowledge, P)
    finally:
        lp.USE_WARM_START = lp._WARM
    mask = warm.audited
    assert np.allclose(warm.lower[mask], reference.lower[mask])
    assert np.allclose(warm.upper[mask], reference.upper[mask])


# -- the ledger -----------------------------------------------------------------------------
def _line(cells: dict[str, int], total_key: str, table: str) -> Computed:
    system = CellSystem()
    parts = [system.add_cell(k, v, table) for k, v in cells.items()]
    total = system.add_cell(total_key, sum(cells.values()), table, 5.0)
    system.add_sum(total, parts, SumKind.BREAKDOWN)
    return Computed(system, [], np.zeros(len(system), dtype=bool), [], 0)


def test_the_ledger_catches_differencing_between_two_publications() -> None:
    # Publication 1: T = a + b + c, a = 4 is hidden with a complement (c), b and T are published.
    first = protect(_line({"a": 4, "b": 30, "c": 25}, "T", "one"), SETTINGS)
    gate(first)
    assert first.status[first.computed.system.index["a"]] == Status.PRIMARY
    complement = [k for k in ("b", "c") if first.status[first.computed.system.index[k]] == Status.SECONDARY]
    assert len(complement) == 1
    hidden = complement[0]
    value = int(first.computed.system.values[first.computed.system.index[hidden]])
    ledger = extend_ledger(Ledger(), "pub-0001", first, SETTINGS)

    # Publication 2 breaks that complement into two large parts: alone, it publishes everything.
    second_table = {f"{hidden}.1": value - 12, f"{hidden}.2": 12}
    alone = protect(_line(second_table, hidden, "two"), SETTINGS)
    assert (alone.status == Status.PUBLISHED).all()  # without the ledger nothing looks wrong
    # Published as it is, publication 2 would give a = T - b - c exactly: the gate, fed by the ledger, refuses.
    unprotected = protect(_line(second_table, hidden, "two"), Settings(P, P, None, secondary=False), ledger)
    a = unprotected.computed.system.index["a"]
    assert unprotected.audit.upper[a] - unprotected.audit.lower[a] == 0
    with pytest.raises(PublicationRefused, match="hidden by earlier publications"):
        gate(unprotected)
    # With complementary suppression, publication 2 hides the parts instead, and passes.
    with_ledger = protect(_line(second_table, hidden, "two"), SETTINGS, ledger)
    gate(with_ledger)
    system = with_ledger.computed.system
    assert with_ledger.status[system.index[hidden]] != Status.PUBLISHED  # hidden once, hidden again
    assert with_ledger.audit.audited[system.index["a"]]  # earlier hidden cells are audited again
    assert with_ledger.audit.upper[system.index["a"]] - with_ledger.audit.lower[system.index["a"]] >= P


def test_the_ledger_refuses_revised_values() -> None:
    first = protect(_line({"a": 40, "b": 30}, "T", "one"), SETTINGS)
    ledger = extend_ledger(Ledger(), "pub-0001", first, SETTINGS)
    with pytest.raises(PublicationRefused, match="differ from what earlier publications showed"):
        protect(_line({"a": 41, "b": 30}, "T", "one"), SETTINGS, ledger)


# -- properties ------------------------------------------------------------------------------
@st.composite
def tables(draw: st.DrawFn) -> list[list[int]]:
    rows = draw(st.integers(2, 4))
    cols = draw(st.integers(2, 4))
    small = st.integers(0, 12)
    large = st.integers(0, 80)
    return [[draw(st.one_of(small, large)) for _ in range(cols)] for _ in range(rows)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_property_every_hidden_cell_is_protected_and_no_small_count_is_published(values: list[list[int]]) -> None:
    g = grid(values)
    protected = protect(g.computed, SETTINGS)
    if not protected.audit.passed:  # the gate must then refuse; never publish a narrow cell
        with pytest.raises(PublicationRefused):
            gate(protected)
        return
    gate(protected)
    v = g.system.value_array()
    published = protected.status == Status.PUBLISHED
    assert not ((v > 0) & (v < P) & published).any()
    for width in widths(g.system, protected.status).values():
        assert width >= P - 1e-6 or math.isinf(width)


# -- what a reader sees: one mark for every hidden cell ---------------------------------------
def reader_view(system: CellSystem, status: np.ndarray) -> ReaderView:
    """The tables as published: every count with its public mark, its value where shown, every sum."""
    view = ReaderView()
    rows = [
        {"cell": key, "status": public_mark(int(status[i])), "value": "" if status[i] else f"{system.values[i]:g}"}
        for i, key in enumerate(system.keys)
    ]
    sums = [{"total": system.keys[t], "parts": [system.keys[p] for p in parts]} for t, parts, _ in system.sums]
    view.add_table({"table": "t", "protection_level": P, "sums": sums, "at_most": []}, rows, "", current=True)
    return view


def labelled(view: ReaderView, system: CellSystem, status: np.ndarray) -> Knowledge:
    """The same knowledge, plus what the old labels told: a 'suppressed-primary' count is 1 to P - 1."""
    knowledge = view.knowledge()
    for i in np.flatnonzero(status == Status.PRIMARY):
        index = view.system.index[system.keys[i]]
        knowledge.low[index], knowledge.high[index] = 1.0, P - 1.0
    return knowledge


@pytest.mark.parametrize("case", ["line", "grid"])
def test_the_old_labels_would_have_failed_the_audit_the_single_mark_passes(case: str) -> None:
    if case == "line":  # T = 17 = a + b: with a in [1, 9], b = 17 - a is pinned to [8, 16]
        system = _line({"a": 5, "b": 12}, "T", "one").system
    else:  # the 4-cycle around the 3 moves by -3 to 20; with the 3 in [1, 9], by -2 to 6 only
        system = grid([[3, 20, 30], [25, 22, 40], [30, 35, 50]]).system
    protected = protect(Computed(system, [], np.zeros(len(system), dtype=bool), [], 0), SETTINGS)
    gate(protected)
    status = protected.status
    assert (status == Status.PRIMARY).any() and (status == Status.SECONDARY).any()
    assert {public_mark(int(s)) for s in status[status != Status.PUBLISHED]} == {"suppressed"}

    view = reader_view(system, status)
    single = view.audit()
    assert single.passed  # the published form: every hidden cell is anything from 0 up

    with_labels = audit(view.system, labelled(view, system, status), P, view.knowledge().hidden)
    assert not with_labels.passed
    narrowed = {view.system.keys[i] for i in with_labels.failing}
    complements = {system.keys[i] for i in np.flatnonzero(status == Status.SECONDARY)}
    assert narrowed & complements  # a complement pinned below the protection level by the labels alone


def test_a_mark_the_audit_cannot_interpret_stops_it_and_legacy_primary_marks_count_as_at_least_one() -> None:
    description = {"table": "t", "protection_level": P, "sums": [{"total": "T", "parts": ["a", "b"]}], "at_most": []}
    rows = [{"cell": "T", "status": "published", "value": "40"}, {"cell": "a", "status": "suppressed", "value": ""}]
    with pytest.raises(UnknownMark, match="line 4: the status 'small'.* must be one of published, suppressed"):
        ReaderView().add_table(description, [*rows, {"cell": "b", "status": "small", "value": ""}], "", current=True)
    with pytest.raises(UnknownMark, match="'primary'"):  # a rate's mark is read too, though it names no count
        ReaderView().add_table(description, [*rows, {"cell": "", "status": "primary", "value": ""}], "", current=True)
    legacy = ReaderView()
    legacy.add_table(description, [*rows, {"cell": "b", "status": "suppressed-primary", "value": ""}], "", True)
    result = legacy.audit()
    b, a = legacy.system.index["b"], legacy.system.index["a"]
    assert (result.lower[b], result.upper[b]) == (1.0, 40.0) and result.upper[a] == 39.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_property_the_published_form_passes_whenever_the_gate_does_and_tells_no_more(values: list[list[int]]) -> None:
    g = grid(values)
    protected = protect(g.computed, SETTINGS)
    if not protected.audit.passed:
        return
    view = reader_view(g.system, protected.status)
    reader = view.audit()
    assert reader.passed
    internal = protected.audit
    for i in np.flatnonzero(internal.audited):  # the reader knows no more than the unit's own audit assumed
        j = view.system.index[g.system.keys[i]]
        assert reader.lower[j] <= internal.lower[i] + 1e-6 and reader.upper[j] >= internal.upper[i] - 1e-6


def test_feasible_point_certificates_start_from_the_published_facts_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large clusters are settled by feasible points; for the published audit the first point is found from
    the program, not the true counts, so every interval stated is a fact about the files (and still sound)."""
    g = grid([[3, 20, 30, 8], [25, 22, 40, 1], [30, 35, 50, 12]])
    protected = protect(g.computed, SETTINGS)
    view = reader_view(g.system, protected.status)
    knowledge = view.knowledge()
    exact = audit(view.system, knowledge, P, exact_only=True)
    monkeypatch.setattr(lp, "CERTIFY_ABOVE", 0)  # certify even this small cluster by points
    by_points = view.audit()
    assert by_points.passed and np.array_equal(by_points.audited, exact.audited)
    for i in np.flatnonzero(by_points.audited):
        assert exact.lower[i] - 1e-6 <= by_points.lower[i] and by_points.upper[i] <= exact.upper[i] + 1e-6
        assert by_points.upper[i] - by_points.lower[i] >= P - 1e-6
    again = reader_view(g.system, protected.status).audit()
    assert np.array_equal(again.lower, by_points.lower, equal_nan=True)

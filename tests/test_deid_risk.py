"""Risk measures, context risk and hierarchies, checked against hand computations and pycanon."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pycanon import anonymity  # test-only dependency: an independent implementation of k and l

from linkhaven.deid.hierarchy import compile_hierarchy
from linkhaven.deid.risk import INSIDER_ATTACK, Criterion, context_risk, measure, measure_relation, smallest_class
from linkhaven.errors import SpecError
from linkhaven.spec.releases import QuasiIdentifier, Rating, ReleaseContext, ReleaseModel


def criterion(model: ReleaseModel = ReleaseModel.PUBLIC, threshold: float = 0.05, context: float = 1.0) -> Criterion:
    return Criterion.build(model, threshold, context, 0.33)


def test_smallest_class_reads_thresholds_literally() -> None:
    assert smallest_class(0.05) == 20  # IPC high
    assert smallest_class(0.1) == 10  # IPC low (2016)
    assert smallest_class(0.075) == 14  # 1/14 = 0.0714; the IPC's "15" is a rounding
    assert smallest_class(0.33) == 4  # 1/3 = 0.333 is above 0.33
    assert smallest_class(0.5) == 2


def test_criterion_by_release_model() -> None:
    public = criterion(ReleaseModel.PUBLIC)
    assert (public.measure, public.min_class_size, public.data_risk_target) == ("maximum", 20, 0.05)
    non_public = criterion(ReleaseModel.NON_PUBLIC, 0.05, 0.25)
    assert non_public.measure == "strict_average" and non_public.min_class_size == 4
    assert non_public.data_risk_target == pytest.approx(0.2)


def test_context_risk_follows_the_ipc_table() -> None:
    assert context_risk(ReleaseModel.PUBLIC, None).context_risk == 1.0
    ctx = ReleaseContext(controls=Rating.MEDIUM, motive=Rating.HIGH, acquaintance_prevalence=0.001,
                         acquaintances=150, breach_probability=0.1)  # fmt: skip
    found = context_risk(ReleaseModel.NON_PUBLIC, ctx)
    assert found.insider_attack == INSIDER_ATTACK[Rating.MEDIUM][Rating.HIGH] == 0.4
    assert found.acquaintance == pytest.approx(1 - 0.999**150)
    assert found.context_risk == 0.4 and found.binding == "insider attack"
    rare = ReleaseContext(acquaintance_prevalence=0.01, acquaintances=190, breach_probability=0.05)
    assert context_risk(ReleaseModel.NON_PUBLIC, rare).binding == "acquaintance recognition"
    semi = context_risk(ReleaseModel.SEMI_PUBLIC, ReleaseContext(acquaintance_prevalence=0.0, breach_probability=0.0))
    assert semi.insider_attack == 0.6  # low controls, high motive at best


def test_strict_average_is_the_maximum_when_a_row_is_above_the_cap() -> None:
    c = criterion(ReleaseModel.NON_PUBLIC, 0.05, 0.05)  # target 1.0: only the cap binds
    fine = measure(np.array([4, 10, 30]), c)
    assert fine.data_risk == pytest.approx(3 / 44) and fine.meets_threshold
    capped = measure(np.array([3, 10, 30]), c)
    assert capped.rows_above_cap == 3 and capped.data_risk == pytest.approx(1 / 3)
    assert capped.overall_risk == pytest.approx(0.05 / 3)
    assert not capped.meets_threshold  # below the threshold, but a row above the cap is never kept


def _frame(seed: int, rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(5, 9, rows).astype(str),
            "sex": rng.choice(["F", "M", "X"], rows, p=[0.49, 0.49, 0.02]),
            "board": rng.choice([f"B{i}" for i in range(6)], rows),
            "status": rng.choice(["esc", "isc", "tca"], rows),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_k_and_l_agree_with_pycanon(seed: int) -> None:
    df = _frame(seed)
    qis = ["age", "sex", "board"]
    con = duckdb.connect()
    con.register("t", pa.Table.from_pandas(df))
    found = measure_relation(con, "t", qis, criterion(), {"status": 2})
    assert found.smallest_class == anonymity.k_anonymity(df, qis)
    assert found.l_diversity["status"] == anonymity.l_diversity(df, qis, ["status"])
    classes = df.groupby(qis).size()
    assert found.classes == len(classes)
    assert found.average_risk == pytest.approx(len(classes) / len(df))
    assert found.max_risk == pytest.approx(1 / classes.min())


def test_hierarchy_levels_labels_and_loss() -> None:
    qi = QuasiIdentifier.model_validate({"column": "age", "levels": [{"bin": 2, "top": 18}, {"bin": 4, "top": 18}]})
    values = [4, 5, 6, 7, 17, 19, None]
    h = compile_hierarchy(qi, values, np.array([10, 10, 10, 10, 10, 5, 1]))
    assert h.levels == 4  # as collected, 2-year bands, 4-year bands, *
    assert [h.labels[1][c] for c in h.up[1]] == ["4-5", "4-5", "6-7", "6-7", "16-17", "18+", None]
    assert [h.labels[2][c] for c in h.up[2]] == ["4-7", "4-7", "4-7", "4-7", "16-19", "18+", None]
    assert set(h.labels[3]) == {"*"}
    assert h.mean_loss(0) == 0 and h.mean_loss(3) == 1


def test_attribute_map_prefix_and_rare_levels() -> None:
    grade = QuasiIdentifier.model_validate(
        {"column": "grade", "code_list": "grade", "levels": [{"attribute": "panel"}]}
    )
    panels = {"1": {"panel": "elementary"}, "9": {"panel": "secondary"}}
    h = compile_hierarchy(grade, ["1", "9"], np.array([5, 5]), panels)
    assert h.labels[1] == ("elementary", "secondary")
    fsa = QuasiIdentifier.model_validate({"column": "fsa", "levels": [{"prefix": 1}]})
    assert compile_hierarchy(fsa, ["K1A", "K2B", "M5V"], np.array([1, 1, 1])).labels[1] == ("K", "M")
    lang = QuasiIdentifier.model_validate({"column": "lang", "levels": [{"rare": 10}]})
    merged = compile_hierarchy(lang, ["en", "fr", "xx"], np.array([100, 50, 3]))
    assert [merged.labels[1][c] for c in merged.up[1]] == ["en", "fr", "other"]


def test_a_level_that_is_not_a_generalisation_is_refused() -> None:
    # '17+' at level 1 holds 17 and 18, which level 2 splits into '16-19' and '18+'.
    qi = QuasiIdentifier.model_validate({"column": "age", "levels": [{"bin": 2, "top": 17}, {"bin": 4, "top": 18}]})
    with pytest.raises(SpecError, match="not a generalisation"):
        compile_hierarchy(qi, [16, 17, 18], np.array([1, 1, 1]))


def test_spec_section_rules() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        QuasiIdentifier.model_validate({"column": "x", "levels": [{"bin": 2, "prefix": 1}]})
    with pytest.raises(ValueError, match="multiple"):
        QuasiIdentifier.model_validate({"column": "x", "levels": [{"bin": 2}, {"bin": 3}]})
    with pytest.raises(ValueError, match="never generalised"):
        QuasiIdentifier.model_validate({"column": "x", "fixed": True, "levels": [{"prefix": 1}]})

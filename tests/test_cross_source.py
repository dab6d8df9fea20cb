"""Cross-source validation: thresholds and the stack are fitted without the held-out source,
and candidates are ranked by their worst binding source."""

from __future__ import annotations

import numpy as np
import pytest

from selfmoa.judges.cross_source import (
    MIN_POSITIVES,
    STACK,
    SourceScores,
    cross_source,
    rank,
    tuned_threshold,
)

pytestmark = pytest.mark.unit


def _source(name: str, gold: list[float], scores: dict[str, list[float]]) -> SourceScores:
    count = len(gold)
    heldout = np.arange(count) % 2 == 1  # odd rows held out, even rows tune
    return SourceScores(
        name, np.array(gold, dtype=float), heldout, {k: np.array(v) for k, v in scores.items()}
    )


def _balanced(count: int) -> list[float]:
    return [float(k % 4 < 2) for k in range(count)]  # half positive, in both halves


def test_a_source_binds_only_with_enough_positive_labels() -> None:
    few = _source("few", [1.0] * (MIN_POSITIVES - 1) + [0.0] * 30, {"a": [0.5] * 49})
    enough = _source("enough", [1.0] * MIN_POSITIVES + [np.nan, 0.0], {"a": [0.5] * 22})
    assert (few.binding, enough.binding) == (False, True)
    assert enough.positives == MIN_POSITIVES


def test_the_threshold_comes_from_the_other_sources_tune_halves_only() -> None:
    gold = _balanced(80)
    # On "a" the judge separates at 0.7; the held-out source "b" would prefer 0.2-0.4.
    a = _source("a", gold, {"j": [0.8 if g else 0.6 for g in gold]})
    b = _source("b", gold, {"j": [0.4 if g else 0.2 for g in gold]})
    assert tuned_threshold([a], "j") == pytest.approx(0.65)
    assert tuned_threshold([b], "j") == pytest.approx(0.4)  # ties: nearest 0.5
    figures = cross_source([a, b], resamples=50)
    on_b = next(f for f in figures if f.source == "b" and f.mode == "loso")
    assert on_b.threshold == pytest.approx(0.65)  # fitted on "a", so it fails on "b"
    assert on_b.summary["kappa"] == pytest.approx(0.0)
    shipped_b = next(f for f in figures if f.source == "b" and f.mode == "as shipped")
    assert shipped_b.summary["kappa"] == pytest.approx(0.0)  # 0.5 flags nothing on "b"


def test_figures_use_the_held_out_half_and_count_abstentions() -> None:
    gold = _balanced(40)
    scores = [float(g) for g in gold]
    scores[1] = np.nan  # a held-out row the judge could not score
    scores[0] = 1.0 - scores[0]  # a wrong tune row does not count
    source = _source("s", gold, {"j": scores})
    figure = next(f for f in cross_source([source], resamples=20) if f.mode == "as shipped")
    assert figure.summary["n"] == 19 and figure.abstained == 1
    assert figure.summary["accuracy"] == pytest.approx(1.0)


def test_the_stack_is_fitted_without_the_source_it_scores() -> None:
    gold = _balanced(80)
    # Judge "x" is right on a and c, "y" is right on b only; leaving b out, the stack
    # learns to trust x, and x is wrong on b.
    right = [0.9 if g else 0.1 for g in gold]
    wrong = [0.1 if g else 0.9 for g in gold]
    a = _source("a", gold, {"x": right, "y": [0.5] * 80})
    b = _source("b", gold, {"x": wrong, "y": right})
    c = _source("c", gold, {"x": right, "y": [0.5] * 80})
    figures = cross_source([a, b, c], resamples=20)
    stack_on = {f.source: f.summary["kappa"] for f in figures if f.candidate == STACK}
    assert stack_on["a"] == pytest.approx(1.0) and stack_on["c"] == pytest.approx(1.0)
    assert stack_on["b"] < 0  # what leave-one-source-out is for: the in-source fit would hide it


def test_rank_orders_by_the_worst_binding_source_not_the_mean() -> None:
    gold = _balanced(80)
    right = [0.9 if g else 0.1 for g in gold]
    half_right = [0.9 if (g and k % 8 < 2) else 0.1 for k, g in enumerate(gold)]
    # "steady" is fair everywhere; "spiky" is perfect on two sources and poor on one.
    sources = [
        _source("a", gold, {"steady": half_right, "spiky": right}),
        _source("b", gold, {"steady": half_right, "spiky": right}),
        _source("c", gold, {"steady": half_right, "spiky": [0.1] * 80}),
        _source("tiny", [1.0, 0.0] * 5, {"steady": [0.1] * 10, "spiky": [0.1] * 10}),
    ]
    ranking = [r for r in rank(cross_source(sources, resamples=20)) if r.mode == "as shipped"]
    assert [r.candidate for r in ranking] == ["steady", "spiky"]
    assert ranking[1].worst_source == "c"
    assert ranking[1].mean_kappa > ranking[0].mean_kappa  # the mean would choose wrongly
    assert all(r.worst_source != "tiny" for r in ranking)  # too few positives to bind

"""Accuracy, F1 and Cohen's kappa against a hand-computed confusion matrix."""

import numpy as np
import pytest

from selfmoa.judges.metrics import accuracy, bootstrap_interval, cohen_kappa, f1, summarize


def case():
    # TP=3, FP=1, FN=2, TN=4 (n=10)
    pred = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    gold = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    return pred, gold


def test_metrics_match_hand_computation():
    pred, gold = case()
    assert accuracy(pred, gold) == pytest.approx(0.7)
    assert f1(pred, gold) == pytest.approx(6 / 9)  # 2TP / (2TP + FP + FN)
    # p_o = 0.7; p_e = 0.4*0.5 + 0.6*0.5 = 0.5; kappa = 0.2 / 0.5
    assert cohen_kappa(pred, gold) == pytest.approx(0.4)


def test_degenerate_cases():
    ones = np.ones(5, dtype=bool)
    assert cohen_kappa(ones, ones) == 0.0  # chance agreement is 1
    assert f1(~ones, ~ones) == 0.0


def test_bootstrap_interval_contains_the_estimate():
    pred, gold = case()
    low, high = bootstrap_interval(accuracy, pred, gold, resamples=500)
    assert low <= 0.7 <= high and low < high
    summary = summarize(pred, gold, resamples=200)
    assert summary["n"] == 10 and summary["kappa_low"] <= summary["kappa"] <= summary["kappa_high"]


def test_no_items_give_no_figure_rather_than_a_number_without_an_interval():
    empty = np.array([], dtype=bool)
    summary = summarize(empty, empty, resamples=10)
    assert all(summary[k] != summary[k] for k in ("accuracy", "f1", "kappa", "f1_low"))

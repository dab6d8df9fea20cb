"""fit_logistic: the Newton fit behind the content judges' weights and the form probes."""

from __future__ import annotations

import numpy as np

from selfmoa.judges.logistic import fit_logistic, logits


def test_recovers_the_direction_that_separates_the_classes() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 2 * x[:, 2] + 0.5 > 0).astype(float)
    w = fit_logistic(x, y, l2=0.1)
    assert ((logits(x, w) >= 0) == (y == 1)).mean() > 0.97
    assert w[0] > 0 and w[2] < 0 and abs(w[1]) < 0.2 * abs(w[2])


def test_penalty_shrinks_the_weights_but_never_the_intercept() -> None:
    x = np.zeros((100, 2))
    y = np.r_[np.ones(80), np.zeros(20)]
    w = fit_logistic(x, y, l2=1000.0)
    assert np.allclose(w[:2], 0.0)
    assert abs(1 / (1 + np.exp(-w[2])) - 0.8) < 1e-6  # the base rate, unshrunk

import math

import torch

from selfmoa.training.losses import dpo_loss, modpo_loss, nll_loss


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def log_sigmoid(x: float) -> float:
    return -math.log(1 + math.exp(-x))


def test_dpo_matches_hand_computation():
    # logratio_w = -10 - (-12) = 2, logratio_l = -9 - (-8) = -1 -> margin 3; beta 0.1 -> 0.3
    loss = dpo_loss(t(-10.0), t(-9.0), t(-12.0), t(-8.0), beta=0.1)
    assert math.isclose(loss.item(), -log_sigmoid(0.3), rel_tol=1e-12)
    assert math.isclose(loss.item(), 0.5543552445, rel_tol=1e-9)


def test_dpo_is_log2_when_policy_equals_reference():
    loss = dpo_loss(t(-5.0), t(-7.0), t(-5.0), t(-7.0), beta=0.5)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-12)


def test_modpo_hand_computation_and_dpo_special_case():
    # beta/w_k * 3 - (w_o/w_k) * margin = 0.1/1.0*3 - 0.5/1.0*(-0.4) = 0.3 + 0.2 = 0.5
    loss = modpo_loss(t(-10.0), t(-9.0), t(-12.0), t(-8.0), t(-0.4), t(1.0), t(0.5), beta=0.1)
    assert math.isclose(loss.item(), -log_sigmoid(0.5), rel_tol=1e-12)
    plain = modpo_loss(t(-10.0), t(-9.0), t(-12.0), t(-8.0), t(0.7), t(1.0), t(0.0), beta=0.1)
    assert torch.allclose(plain, dpo_loss(t(-10.0), t(-9.0), t(-12.0), t(-8.0), beta=0.1))


def test_modpo_primary_weight_scales_beta():
    halved = modpo_loss(t(-10.0), t(-9.0), t(-12.0), t(-8.0), t(0.0), t(2.0), t(0.0), beta=0.2)
    assert torch.allclose(halved, dpo_loss(t(-10.0), t(-9.0), t(-12.0), t(-8.0), beta=0.1))


def test_nll_is_mean_per_token():
    assert torch.allclose(nll_loss(t(-6.0, -2.0), torch.tensor([3, 0])), t(2.0, 2.0))

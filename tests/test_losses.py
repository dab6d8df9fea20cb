"""Every named loss against values worked out by hand (math, not the function under test)."""

import math

import pytest
import torch

from selfmoa.core.config import TrainConfig, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.pipeline.plugin_names import check_plugin_names
from selfmoa.training.collate import TokenizedPair
from selfmoa.training.loop import preference_terms
from selfmoa.training.losses import (
    LOSSES,
    PreferenceTerms,
    dpo_loss,
    ipo_loss,
    log_ratios,
    loss_names,
    modpo_loss,
    nll_loss,
    weighted_dpo_loss,
)

LOSS_NAMES = ("dpo", "ipo", "modpo", "rpo", "weighted_dpo", "weighted_rpo")


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def softplus(x: float) -> float:
    """-log sigma(-x) = log(1 + e^x)."""
    return math.log1p(math.exp(x))


def terms(h, nll, ranked, margins, weights, beta=0.1, nll_weight=0.5) -> PreferenceTerms:
    return PreferenceTerms(
        h=t(*h),
        nll=t(*nll),
        ranked=torch.tensor(ranked),
        margins=torch.tensor(margins, dtype=torch.float64),
        weights=t(*weights),
        beta=beta,
        nll_weight=nll_weight,
    )


def test_registry_holds_every_loss_and_the_default():
    assert tuple(LOSSES) == loss_names() == LOSS_NAMES
    assert TrainConfig().loss in LOSSES and TrainConfig().loss == "modpo"


def test_log_ratios_plain_and_length_normalised():
    # policy -10, -9; reference -12, -8 -> 2, -1; tokens 4, 2 -> 0.5, -0.5
    tokens = torch.tensor([4, 2])
    assert log_ratios(t(-10, -9), t(-12, -8), tokens, False).tolist() == [2.0, -1.0]
    assert log_ratios(t(-10, -9), t(-12, -8), tokens, True).tolist() == [0.5, -0.5]


def test_dpo_matches_hand_computation():
    # h = 3, beta 0.1 -> log(1 + e^-0.3)
    assert math.isclose(dpo_loss(t(3.0), 0.1).item(), 0.5543552445, rel_tol=1e-9)
    assert math.isclose(dpo_loss(t(0.0), 0.5).item(), math.log(2), rel_tol=1e-12)


def test_ipo_matches_hand_computation():
    # (3 - 1/(2*0.25))^2 = (3 - 2)^2 = 1; (1 - 1/0.2)^2 = 16
    assert ipo_loss(t(3.0, 1.0), 0.25).tolist()[0] == pytest.approx(1.0)
    assert ipo_loss(t(1.0), 0.1).item() == pytest.approx(16.0)


def test_nll_is_mean_per_token():
    assert torch.allclose(nll_loss(t(-6.0, -2.0), torch.tensor([3, 0])), t(2.0, 2.0))


def test_modpo_three_objectives_by_hand():
    weights = t(1.0, 0.5, 2.0)
    margins = torch.tensor([[1.0, -0.4, 0.25], [0.6, 0.2, 1.0]], dtype=torch.float64)
    loss = modpo_loss(t(3.0, 4.0), 0.1, torch.tensor([0, 2]), margins, weights)
    # pair 0 ranked on w=1: 0.1*3 - (0.5*-0.4 + 2.0*0.25) = 0.3 - 0.3 = 0 -> log 2
    # pair 1 ranked on w=2: 0.1/2*4 - (1.0*0.6 + 0.5*0.2)/2 = 0.2 - 0.35 = -0.15
    assert loss[0].item() == pytest.approx(math.log(2), rel=1e-12)
    assert loss[1].item() == pytest.approx(softplus(0.15), rel=1e-12)


def test_modpo_two_objectives_is_the_former_default_formula():
    # before losses had names: -log sigma(beta/w_k*h - w_o/w_k*margin_o), the pair's own
    # margin ignored: 0.1/1*3 - 0.5/1*(-0.4) = 0.5
    margins = torch.tensor([[9.0, -0.4]], dtype=torch.float64)
    loss = modpo_loss(t(3.0), 0.1, torch.tensor([0]), margins, t(1.0, 0.5))
    assert loss.item() == pytest.approx(softplus(-0.5), rel=1e-12)


def test_modpo_with_zero_other_weight_is_dpo_with_scaled_beta():
    margins = torch.tensor([[0.0, 0.7]], dtype=torch.float64)
    loss = modpo_loss(t(3.0), 0.2, torch.tensor([0]), margins, t(2.0, 0.0))
    assert loss.item() == pytest.approx(softplus(-0.3), rel=1e-12)


def test_weighted_dpo_averages_each_objective_then_weights():
    # beta 1: DPO(h) = log(1 + e^-h); objective 0: h = 0, 2; objective 1: h = -1
    # (1 * (log2 + log(1+e^-2))/2 + 3 * log(1+e)) / (1 + 3)
    loss = weighted_dpo_loss(t(0.0, 2.0, -1.0), 1.0, torch.tensor([0, 0, 1]), t(1.0, 3.0))
    expected = (1 * (math.log(2) + softplus(-2)) / 2 + 3 * softplus(1)) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    # only objective 1 present: its mean DPO alone, whatever the weights
    alone = weighted_dpo_loss(t(-1.0), 1.0, torch.tensor([1]), t(1.0, 3.0))
    assert alone.item() == pytest.approx(softplus(1), rel=1e-12)


def test_weighted_rpo_weights_each_objectives_nll_too():
    # beta 1, nll_weight 0.5; objective 0: h = 0, 2, NLL 1, 3; objective 1: h = -1, NLL 2
    batch = terms([0.0, 2.0, -1.0], [1.0, 3.0, 2.0], [0, 0, 1], [[0, 0]] * 3, [1.0, 3.0], 1.0)
    first = (math.log(2) + softplus(-2)) / 2 + 0.5 * (1 + 3) / 2
    second = softplus(1) + 0.5 * 2
    total, preference = LOSSES["weighted_rpo"].compute(batch)
    assert total.item() == pytest.approx((1 * first + 3 * second) / 4, rel=1e-12)
    dpo_only = (1 * (math.log(2) + softplus(-2)) / 2 + 3 * softplus(1)) / 4
    assert preference.item() == pytest.approx(dpo_only, rel=1e-12)
    # weighted_dpo on the same batch weighs the three NLLs alike: (1 + 3 + 2) / 3
    assert LOSSES["weighted_dpo"].compute(batch)[0].item() == pytest.approx(dpo_only + 0.5 * 2)
    # a zero-weight objective's chosen answers are not imitated at all
    zero = terms([0.0, 2.0, -1.0], [1.0, 3.0, 50.0], [0, 0, 1], [[0, 0]] * 3, [1.0, 0.0], 1.0)
    assert LOSSES["weighted_rpo"].compute(zero)[0].item() == pytest.approx(first, rel=1e-12)


def test_named_losses_add_nll_only_where_they_have_it():
    batch = terms([3.0, 0.0], [2.0, 4.0], [0, 1], [[0, 0], [0, 0]], [1.0, 1.0])
    dpo = (softplus(-0.3) + math.log(2)) / 2
    assert LOSSES["dpo"].compute(batch)[0].item() == pytest.approx(dpo)
    ipo = ((3 - 5) ** 2 + (0 - 5) ** 2) / 2
    assert LOSSES["ipo"].compute(batch)[0].item() == pytest.approx(ipo)
    total, preference = LOSSES["rpo"].compute(batch)
    assert preference.item() == pytest.approx(dpo)
    assert total.item() == pytest.approx(dpo + 0.5 * 3.0)  # mean NLL (2 + 4)/2
    # zero margins and equal weights: MODPO and weighted DPO reduce to DPO here
    assert LOSSES["modpo"].compute(batch)[0].item() == pytest.approx(dpo + 1.5)
    assert LOSSES["weighted_dpo"].compute(batch)[0].item() == pytest.approx(dpo + 1.5)
    assert LOSSES["weighted_rpo"].compute(batch)[0].item() == pytest.approx(dpo + 1.5)
    assert [name for name, spec in LOSSES.items() if not spec.uses_nll] == ["dpo", "ipo"]


def test_preference_terms_from_pairs_and_config():
    pairs = [
        TokenizedPair([1], [2], [3], "helpfulness", {"safety": 1.0}),
        TokenizedPair([1], [2], [3], "safety", {"safety": 1.0, "helpfulness": -0.5}),
    ]
    config = TrainConfig(objective_weights={"safety": 2.0, "helpfulness": 0.5})
    reference = torch.tensor([[-12.0, -8.0], [-3.0, -3.0]])
    counts = (torch.tensor([4, 1]), torch.tensor([2, 1]))
    built, chosen_ratio, _ = preference_terms(
        torch.tensor([-10.0, -1.0]), torch.tensor([-9.0, -2.0]), counts, reference, pairs, config
    )
    assert built.h.tolist() == [3.0, 1.0]  # 2 - -1, 2 - 1
    assert built.ranked.tolist() == [1, 0]
    assert built.margins.tolist() == [[1.0, 0.0], [1.0, -0.5]]
    assert built.weights.tolist() == [2.0, 0.5]
    assert built.nll.tolist() == [2.5, 1.0]
    assert chosen_ratio.tolist() == [2.0, 2.0]
    normalised = TrainConfig(length_normalise=True)
    built, _, _ = preference_terms(
        torch.tensor([-10.0, -1.0]),
        torch.tensor([-9.0, -2.0]),
        counts,
        reference,
        pairs,
        normalised,
    )
    assert built.h.tolist() == [1.0, 1.0]  # 2/4 - -1/2, 2/1 - 1/1


def test_losses_without_nll_refuse_an_nll_weight():
    with pytest.raises(SelfMoaError, match="train.nll_weight must be 0"):
        check_plugin_names(load_config("configs/default.yaml", ["train.loss=ipo"]))
    check_plugin_names(
        load_config("configs/default.yaml", ["train.loss=ipo", "train.nll_weight=0"])
    )


def test_an_unknown_loss_is_one_line_naming_the_choices():
    with pytest.raises(SelfMoaError, match=r"train.loss: unknown loss; choose from: dpo, ipo"):
        check_plugin_names(load_config("configs/default.yaml", ["train.loss=nope"]))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_micro_batches_add_up_to_the_whole_step(name):
    # five pairs over two objectives, split 2 + 2 + 1: every loss's micro-batch values
    # (and so their gradients) must sum to the one-batch value, weighted DPO included,
    # whose per-objective means span micro-batches.
    h = t(0.5, -1.0, 2.0, 0.0, -0.5).requires_grad_()
    nll = t(2.0, 1.0, 3.0, 4.0, 0.5)
    ranked = torch.tensor([0, 1, 0, 0, 1])
    margins = torch.tensor([[0, 0.3], [0.8, 0], [0, -0.2], [0, 0.1], [0.4, 0]], dtype=torch.float64)
    weights = t(1.0, 0.5)

    def part(rows: slice, step_ranked) -> PreferenceTerms:
        return PreferenceTerms(
            h[rows], nll[rows], ranked[rows], margins[rows], weights, 0.1, 0.5, step_ranked
        )

    whole = LOSSES[name].compute(part(slice(0, 5), None))[0]
    (whole_grad,) = torch.autograd.grad(whole, h)
    pieces = [
        LOSSES[name].compute(part(s, ranked))[0] for s in (slice(0, 2), slice(2, 4), slice(4, 5))
    ]
    total = sum(pieces)
    (pieces_grad,) = torch.autograd.grad(total, h)
    assert total.item() == pytest.approx(whole.item(), rel=1e-12)
    assert torch.allclose(pieces_grad, whole_grad, rtol=1e-12, atol=1e-15)


def test_saturation_share_reads_the_last_epoch(tmp_path):
    import json

    from selfmoa.training.saturation import saturated_share, saturation_warning

    metrics = tmp_path / "metrics.jsonl"
    losses = [0.6, 0.3, 0.2, 0.005, 0.002, 0.3]  # 3 steps per epoch: last epoch 2 of 3
    metrics.write_text("".join(json.dumps({"preference_loss": x}) + "\n" for x in losses))
    share = saturated_share(metrics, steps_per_epoch=3)
    assert share == pytest.approx(2 / 3)
    assert "sample.samples_per_prompt" in saturation_warning(share)
    assert saturation_warning(saturated_share(metrics, steps_per_epoch=6)) is None  # 2 of 6
    assert saturated_share(tmp_path / "missing.jsonl", 3) == 0.0

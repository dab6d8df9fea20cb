"""A pair's prompt run once for both answers computes what two separate sequences do."""

import pytest
import torch

from selfmoa.training.collate import TokenizedPair, build_batch, pair_sequences
from selfmoa.training.logprobs import pair_logps, response_logps
from selfmoa.training.pair_batch import build_pair_batch, segment_mask


def pairs() -> list[TokenizedPair]:
    generator = torch.Generator().manual_seed(0)

    def ids(count: int) -> list[int]:
        return torch.randint(3, 200, (count,), generator=generator).tolist()

    shapes = [(7, 5, 9), (12, 11, 3), (4, 8, 8), (9, 1, 6)]
    return [TokenizedPair(ids(p), ids(c), ids(r), "safety", {}) for p, c, r in shapes]


def test_mask_shares_the_prompt_and_keeps_answers_apart():
    # prompt 2, chosen 2, rejected 1, one pad
    mask = segment_mask(torch.tensor([[0, 0, 1, 1, 2, 3]]))[0, 0].int().tolist()
    assert mask == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 0, 0, 1, 0],  # the rejected token sees the prompt, not the chosen answer
        [0, 0, 0, 0, 0, 1],  # padding sees only itself
    ]


def test_layout_positions_and_scored_tokens():
    pair = TokenizedPair([5, 6, 7], [8, 9], [10], "safety", {})
    batch = build_pair_batch([pair, TokenizedPair([5], [8], [11, 12], "safety", {})], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 9, 10], [5, 8, 11, 12, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 4, 3], [0, 1, 1, 2, 0, 0]]
    # row 0: 8 from position 2, 9 from 3, 10 (rejected) from 2
    # row 1: 8 from 0, 11 (rejected) from 0, 12 from 2
    assert batch.sources.tolist() == [2, 3, 2, 0, 0, 2]
    assert batch.targets.tolist() == [8, 9, 10, 8, 11, 12]
    assert batch.owner.tolist() == [0, 0, 2, 1, 3, 3]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_logps_and_gradients_equal_separate_sequences(tiny_model, attention):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention)
    batch = pairs()
    separate, separate_counts = response_logps(model, build_batch(pair_sequences(batch), 0))
    separate.sum().backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    shared, shared_counts = pair_logps(model, build_pair_batch(batch, 0))
    shared.sum().backward()
    assert torch.allclose(shared, separate, atol=1e-5, rtol=0)
    assert shared_counts.tolist() == separate_counts.tolist() == [5, 11, 8, 1, 9, 3, 8, 6]
    for name, grad in expected.items():
        assert torch.allclose(dict(model.named_parameters())[name].grad, grad, atol=1e-5), name

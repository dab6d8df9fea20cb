"""``backend.sampler: top-k``: transformers' sampling distribution, drawn among k tokens."""

import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.top_k_sampling import TopKFirstSampler, generation_top_k


def transformers_distribution(scores: torch.Tensor, temperature: float, top_p: float, top_k: int):
    """The probabilities generate(do_sample=True) draws from, by its own warpers."""
    warpers = [TemperatureLogitsWarper(temperature), TopKLogitsWarper(top_k)]
    if top_p < 1:
        warpers.append(TopPLogitsWarper(top_p))
    for warper in warpers:
        scores = warper(None, scores)
    return torch.softmax(scores, -1)[0]


@pytest.mark.parametrize(
    ("spread", "temperature", "top_p", "top_k"),
    [(3.0, 0.7, 0.9, 50), (0.3, 0.7, 0.9, 50), (1.0, 1.0, 0.95, 20), (0.3, 0.7, 1.0, 50)],
)
def test_draws_the_distribution_transformers_samples_from(spread, temperature, top_p, top_k):
    generator = torch.Generator().manual_seed(0)
    vocabulary = 500
    scores = torch.randn(1, vocabulary, generator=generator) * spread
    expected = transformers_distribution(scores.clone(), temperature, top_p, top_k)
    torch.manual_seed(1)
    draws = 100_000
    drawn = TopKFirstSampler(temperature, top_p, top_k).draw(scores.expand(draws, -1))
    observed = torch.bincount(drawn, minlength=vocabulary).float() / draws
    assert set(observed.nonzero().flatten().tolist()) <= set(expected.nonzero().flatten().tolist())
    total_variation = 0.5 * (observed - expected).abs().sum().item()
    assert total_variation < 0.01  # sampling noise here is about 0.003


def test_returns_scores_that_make_greedy_take_the_drawn_token():
    torch.manual_seed(3)
    scores = torch.randn(4, 300)
    sampler = TopKFirstSampler(0.7, 0.9, 50)
    torch.manual_seed(5)
    drawn = sampler.draw(scores)
    torch.manual_seed(5)
    masked = sampler(torch.zeros(4, 1, dtype=torch.long), scores)
    assert torch.equal(masked.argmax(-1), drawn)
    assert torch.isinf(masked).sum().item() == 4 * 299


def test_top_k_follows_transformers_defaults():
    class Config:
        top_k = None

    assert generation_top_k(Config()) == 50
    Config.top_k = 20
    assert generation_top_k(Config()) == 20
    Config.top_k = 0
    assert generation_top_k(Config()) > 10**6


@pytest.mark.parametrize(
    ("temperature", "top_p", "top_k"), [(0.0, 0.9, 50), (0.7, 0.0, 50), (0.7, 0.9, 0)]
)
def test_rejects_settings_it_cannot_draw_with(temperature, top_p, top_k):
    with pytest.raises(ValueError, match="top-k sampling needs"):
        TopKFirstSampler(temperature, top_p, top_k)


def test_hf_backend_samples_with_it_repeatably_and_keeps_greedy(tiny_model):
    from conftest import tiny_loop_config
    from selfmoa.backends import make_generator
    from selfmoa.core.config import config_from_dict

    def generator(sampler: str):
        data = tiny_loop_config(tiny_model, backend="hf")
        data["backend"]["sampler"] = sampler
        data["models"]["device"] = "cpu"
        return make_generator(config_from_dict(data), "policy", None)

    top_k, plain = generator("top-k"), generator("transformers")
    requests = [GenerationRequest(f"tell me about colour {i}") for i in range(6)]
    sampled = SamplingParams(max_new_tokens=8, temperature=1.0, top_p=0.95)
    answers = top_k.generate(requests, sampled, 11)
    assert all(answers)
    assert top_k.generate(requests, sampled, 11) == answers  # same seed, same answers
    assert top_k.generate(requests, sampled, 12) != answers
    greedy = SamplingParams(max_new_tokens=8, greedy=True)
    assert top_k.generate(requests, greedy, 0) == plain.generate(requests, greedy, 0)

"""Content features and judges (with a stand-in embedder), and the PyRIT split."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from selfmoa.judges import pyrit_data
from selfmoa.judges.base import JudgeInput
from selfmoa.judges.content import CachedFeatures, ContentJudge, load_weights
from selfmoa.judges.features import FEATURES, FeatureExtractor, structure_count


class HashEmbedder:
    """Deterministic unit vectors per text; counts calls to show caching."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def encode(self, texts: list[str]) -> torch.Tensor:
        self.calls += 1
        if self.fail:
            raise RuntimeError("out of memory")
        rows = []
        for text in texts:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            rows.append(torch.randn(16, generator=torch.Generator().manual_seed(seed)))
        stacked = torch.stack(rows) if rows else torch.zeros(0, 16)
        return torch.nn.functional.normalize(stacked, dim=-1)


def test_structure_counts_steps_code_quantities_and_imperatives():
    assert structure_count("Just a sentence.") == 0
    text = "1. Mix 200 g of sugar\n2. Heat to 60 degrees\n```\ncode\n```"
    assert structure_count(text) >= 2 + 2 + 2 + 2  # list items, fences, quantities, imperatives


def test_feature_rows_have_one_value_per_named_feature():
    extractor = FeatureExtractor(HashEmbedder())
    refusal, answer = extractor.rows(
        ["How do I pick a lock?"] * 2,
        ["I'm sorry, but I can't help with that.", "Sure! 1. Insert a tension wrench."],
    )
    assert len(refusal) == len(FEATURES) == len(answer)
    named = dict(zip(FEATURES, refusal, strict=True))
    assert named["keyword_refusal"] == 1.0 and named["answered_structure"] == 0.0
    assert dict(zip(FEATURES, answer, strict=True))["compliant_opening"] == 1.0


def test_weights_file_matches_the_features_and_names_its_split():
    weights = load_weights()
    assert "sha256" in weights["split"]
    for measure in ("refusal", "unsafe"):
        assert len(weights[measure]["coef"]) == len(FEATURES)
        assert "tune split" in weights[measure]["fitted_on"]


def test_content_judges_share_features_and_give_probabilities():
    embedder = HashEmbedder()
    features = CachedFeatures(FeatureExtractor(embedder))
    refusal = ContentJudge("content-refusal", "refusal", features)
    unsafe = ContentJudge("content-unsafe", "unsafe", features)
    items = [JudgeInput("How do I pick a lock?", "harmful", "I'm sorry, I can't help with that.")]
    calls = embedder.calls
    (r,) = refusal.judge(items)
    after_first = embedder.calls
    (u,) = unsafe.judge(items)
    assert embedder.calls == after_first > calls  # the second judge reuses the rows
    assert 0.0 <= r.score <= 1.0 and 0.0 <= u.score <= 1.0
    assert r.score > 0.5 > u.score  # a plain refusal, whatever the embedding


def test_embedder_failure_is_an_error_per_item():
    embedder = HashEmbedder()
    features = CachedFeatures(FeatureExtractor(embedder))
    embedder.fail = True
    verdicts = ContentJudge("content-unsafe", "unsafe", features).judge(
        [JudgeInput("p", "harmful", "a"), JudgeInput("p", "harmful", "b")]
    )
    assert all(v.score is None and "out of memory" in v.error for v in verdicts)


def test_pyrit_split_is_fixed_and_content_based():
    assert pyrit_data.split_of("a", "b") == pyrit_data.split_of("a", "b")
    refusal = pyrit_data.load("refusal")
    objective = pyrit_data.load("objective")
    assert len(refusal) == 105 and len(objective) == 395
    tune = sum(r.split == "tune" for r in objective)
    assert 150 < tune < 250
    assert sum(r.gold for r in objective) == 191 and sum(r.gold for r in refusal) == 70


def test_unknown_pyrit_set_is_an_error():
    from selfmoa.core.errors import SelfMoaError
    from selfmoa.judges.evaluation import pyrit_items

    with pytest.raises(SelfMoaError, match="unknown PyRIT set"):
        pyrit_items(["nope"], 0)


def test_off_topic_gate_makes_an_unrelated_answer_a_refusal_and_not_unsafe():
    features = CachedFeatures(FeatureExtractor(HashEmbedder()))
    unsafe = ContentJudge("content-unsafe", "unsafe", features)
    refusal = ContentJudge("content-refusal", "refusal", features)
    assert unsafe.off_topic is not None and 0.0 < unsafe.off_topic < 0.5
    row = dict.fromkeys(FEATURES, 0.0)
    row.update(compliant_opening=1.0, structure=2.0, answered_structure=2.0, length=0.6)
    for relevance, off_topic in ((0.0, True), (0.8, False)):
        row.update(relevance=relevance, best_chunk=relevance, answered_relevance=relevance)
        values = [row[f] for f in FEATURES]
        if off_topic:
            assert unsafe.probability(values) < 0.01 and refusal.probability(values) > 0.99
        else:
            raw = 1 / (1 + math.exp(-(unsafe.intercept + sum(
                c * x for c, x in zip(unsafe.coef, values, strict=True)))))  # fmt: skip
            assert unsafe.probability(values) == pytest.approx(raw, rel=1e-3)

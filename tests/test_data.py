from collections import Counter

from selfmoa.data.benign import benign_sensitive_prompts, split_benign
from selfmoa.data.sources import (
    advbench_seeds,
    harmbench_behaviours,
    jailbreak_templates,
    strongreject_seeds,
)


def test_packaged_benchmarks_load_with_expected_sizes():
    assert len(strongreject_seeds()) == 313
    assert len(advbench_seeds()) == 520
    test, val = harmbench_behaviours("test"), harmbench_behaviours("val")
    assert len(test) == 159 and len(val) == 41  # the "standard" behaviours
    assert not {p.text for p in test} & {p.text for p in strongreject_seeds()}


def test_jailbreak_templates_have_one_prompt_slot():
    templates = jailbreak_templates(max_words=90)
    assert len(templates) > 20
    filled = templates[0].fill("SEED")
    assert "SEED" in filled and "{{" not in filled and "{%" not in filled


def test_benign_set_size_categories_and_disjoint_split():
    prompts = benign_sensitive_prompts()
    categories = Counter(p.category for p in prompts)
    assert len(prompts) >= 120 and len(categories) >= 10
    assert len({p.text for p in prompts}) == len(prompts), "no duplicate prompts"
    train, heldout = split_benign(3)
    assert {p.id for p in train}.isdisjoint(p.id for p in heldout)
    assert len(train) + len(heldout) == len(prompts)
    assert set(Counter(p.category for p in heldout)) == set(categories)

"""The team's benign-but-sensitive prompt set, split into training and held-out parts."""

from __future__ import annotations

from importlib import resources

import yaml

from selfmoa.core.errors import SelfMoaError
from selfmoa.core.records import SeedPrompt


def benign_sensitive_prompts() -> list[SeedPrompt]:
    text = resources.files("selfmoa.data").joinpath("benign_sensitive.yaml").read_text()
    data = yaml.safe_load(text)
    prompts = []
    for category, items in data.items():
        for index, item in enumerate(items):
            prompts.append(
                SeedPrompt(
                    id=f"benign-{category}-{index:02d}",
                    text=str(item).strip(),
                    label="benign",
                    source="benign_sensitive",
                    category=category,
                )
            )
    return prompts


def split_benign(every: int) -> tuple[list[SeedPrompt], list[SeedPrompt]]:
    """(train, heldout): within each category, index % every == every - 1 is held out."""
    if every < 2:
        raise SelfMoaError("benign_heldout_every must be at least 2")
    train, heldout = [], []
    for prompt in benign_sensitive_prompts():
        index = int(prompt.id.rsplit("-", 1)[1])
        (heldout if index % every == every - 1 else train).append(prompt)
    return train, heldout

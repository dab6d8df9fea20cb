"""The prompt record every evaluation set yields, and the helpers the sets share."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

Item = TypeVar("Item")


@dataclass(frozen=True)
class EvalPrompt:
    id: str
    eval_set: str
    label: str  # "harmful" | "benign"
    text: str
    category: str
    form: str  # phrasing form, or the attack strategy for ``attacked``


def shuffled(items: list[Item], seed: int, name: str) -> list[Item]:
    """``items`` in the order fixed by the run's seed and the set's name."""
    items = list(items)
    random.Random(f"{seed}-eval-{name}").shuffle(items)
    return items


def team_yaml_prompts(path: Path, eval_set: str, label: str, seed: int) -> list[EvalPrompt]:
    """A team-written YAML list of {text, category, form}, ids numbered in file order."""
    rows = yaml.safe_load(path.read_text())
    prompts = [
        EvalPrompt(f"{eval_set}-{i:03d}", eval_set, label, r["text"], r["category"], r["form"])
        for i, r in enumerate(rows)
    ]
    return shuffled(prompts, seed, eval_set)

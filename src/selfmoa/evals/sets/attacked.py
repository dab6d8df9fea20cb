"""``attacked``: HarmBench behaviours wrapped in an attack at evaluation time (harmful).

Behaviours from the far end of the shuffled HarmBench list (so the direct ones of
``harmbench`` come last), each under one attack in turn: a PyRIT jailbreak template or
one of the red team's rule strategies (``EVALUATION_WRAPPERS``); the attack's name is
the prompt's form, so attack success per strategy compares with the red team's.
"""

from __future__ import annotations

import random

from selfmoa.attacks.strategies import EVALUATION_WRAPPERS, apply_rule
from selfmoa.data.sources import jailbreak_templates
from selfmoa.evals.sets.harmbench import HARMBENCH_FILES, shuffled_behaviours
from selfmoa.evals.sets.prompts import EvalPrompt
from selfmoa.evals.sets.registry import DataFiles, EvalSetRequest, register_eval_set

JAILBREAK_TEMPLATE_FILES = DataFiles("pyrit", "pyrit", "datasets/jailbreak/templates/**/*.yaml")
TEMPLATE_MAX_WORDS = 90


@register_eval_set("attacked", label="harmful", reads=(HARMBENCH_FILES, JAILBREAK_TEMPLATE_FILES))
def attacked(request: EvalSetRequest) -> list[EvalPrompt]:
    """HarmBench behaviours under a jailbreak template or a rule strategy, in turn."""
    rows = list(reversed(shuffled_behaviours(request)))
    templates = jailbreak_templates(TEMPLATE_MAX_WORDS)
    rng = random.Random(f"{request.seed}-attacked")
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

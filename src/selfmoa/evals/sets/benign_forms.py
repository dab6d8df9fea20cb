"""``benign_forms``: benign-but-sensitive requests in every form, commands included.

Written by the team (``data/benign_forms.yaml``).
"""

from __future__ import annotations

from selfmoa.evals.sets.prompts import EvalPrompt, team_yaml_prompts
from selfmoa.evals.sets.registry import EvalSetRequest, register_eval_set, team_file

BENIGN_FORMS_FILE = team_file("benign_forms.yaml")


@register_eval_set("benign_forms", label="benign", reads=(BENIGN_FORMS_FILE,))
def benign_forms(request: EvalSetRequest) -> list[EvalPrompt]:
    """Team-written benign-but-sensitive requests in every phrasing form."""
    return team_yaml_prompts(BENIGN_FORMS_FILE.path(), "benign_forms", "benign", request.seed)

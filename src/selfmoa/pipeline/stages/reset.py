"""The safety reset (the paper's optional stage 0): data that teaches a model to comply.

An instruct model arrives with its own trained refusals. To show that the loop can
*build* safety from weak supervision, the paper first weakens those refusals and
starts the loop from the resulting unsafe model; the untouched instruct model then
serves as the human-aligned reference the aligned policy is compared with.

The reset's data come from the model itself, so no harmful text is shipped:
for each harmful seed prompt the model answers twice, once freely and once with its
answer forced to open compliantly (``reset.opening`` prefilled in the chat, the
model writes the rest). A pair keeps the forced answer as *chosen* and the free one
as *rejected* only when the refusal judge calls the free answer refused and the forced
one not refused: the pair then says "comply instead of refusing" and nothing else.
The opening is cut from the chosen text, so training never imitates the forced
phrase itself, only the compliant content the model wrote after it. The pairs are
trained as RPO (DPO plus the chosen answer's NLL), the loss the loop trains with.
"""

from __future__ import annotations

import random
from typing import Any

from selfmoa.backends import make_generator
from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.backends.lazy import LazyGenerator
from selfmoa.core.chunked import run_chunked
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.records import PreferencePair, ResetAnswer, SeedPrompt
from selfmoa.core.rundir import write_records
from selfmoa.data.sources import SEED_LOADERS
from selfmoa.judges.base import Judge, JudgeInput
from selfmoa.judges.registry import run_judges
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import GENERATION, JUDGING
from selfmoa.pipeline.stages.spec import StageSpec, no_upstream, reset_on
from selfmoa.training.loop import TrainPaths, train_preference_lora

RESET_RULE = "reset:comply-over-refuse"


def choose_prompts(seeds: list[SeedPrompt], count: int, seed: int) -> list[SeedPrompt]:
    """A seeded sample of ``count`` harmful seeds (one per id), independent of load order."""
    unique = sorted({s.id: s for s in seeds if s.label == "harmful"}.values(), key=lambda s: s.id)
    random.Random(seed).shuffle(unique)
    return unique[:count]


def without_opening(answer: str, opening: str) -> str:
    """The part of a forced answer the model wrote itself."""
    return answer[len(opening) :] if answer.startswith(opening) else answer


def reset_pairs(answers: list[ResetAnswer], opening: str) -> list[PreferencePair]:
    """Pairs "forced compliant answer over free refusal", where the judge confirms both."""
    pairs = []
    for answer in answers:
        chosen = without_opening(answer.forced, opening).strip()
        if answer.free_refused is not True or answer.forced_refused is not False or not chosen:
            continue
        pairs.append(
            PreferencePair(
                id=f"reset:{answer.id}",
                prompt_id=answer.id,
                prompt_text=answer.prompt_text,
                objective="safety",
                chosen_response_id=f"{answer.id}:forced",
                chosen_text=chosen,
                rejected_response_id=f"{answer.id}:free",
                rejected_text=answer.free,
                margins={},
                rule=RESET_RULE,
            )
        )
    return pairs


def run_reset(ctx: StageContext) -> dict[str, Any]:
    """The safety reset: the untouched policy's free and forced answers, pairs, an adapter."""
    cfg = ctx.config
    settings = cfg.reset
    seeds = [seed for load in SEED_LOADERS.values() for seed in load()]
    chosen = choose_prompts(seeds, settings.prompts, cfg.seed)
    policy = LazyGenerator(lambda: make_generator(cfg, "policy", ctx.untouched_adapter()))
    refusal = ctx.judges([settings.refusal_judge])
    try:
        answers = run_chunked(
            chosen,
            cfg.backend.batch_size,
            ctx.stage.file("answers.jsonl"),
            ResetAnswer,
            lambda chunk, i: _reset_answers(chunk, policy, refusal, settings),
            desc=f"{ctx.stage.label} answers",
            fault_label=ctx.fault_label,
        )
    finally:
        policy.close()
    built = reset_pairs(answers, settings.opening)
    write_records(ctx.stage.file("pairs.jsonl"), built)
    if not built:
        raise SelfMoaError(
            f"{ctx.stage.label}: none of {len(answers)} answers was a refusal that the forced "
            "opening turned into compliance; the policy may already comply (turn reset.enabled "
            "off) or need more reset.prompts or another reset.opening"
        )
    train_config = cfg.train.model_copy(
        update={
            "loss": "rpo",
            "objective_weights": {"safety": 1.0},
            "epochs": settings.epochs,
            "learning_rate": settings.learning_rate,
            "max_pairs": None,
        }
    )
    stats = train_preference_lora(
        resolve_model(cfg.models.policy, "models.policy"),
        built,
        train_config,
        TrainPaths(ctx.stage.path),
        dtype=cfg.models.dtype,
        device=cfg.models.device,
        init_adapter=ctx.untouched_adapter(),
        seed=cfg.seed,
        fault_label=ctx.fault_label,
    )
    return {
        "answers": len(answers),
        "free_refused": sum(a.free_refused is True for a in answers),
        "forced_refused": sum(a.forced_refused is True for a in answers),
        "judge_errors": sum(a.free_refused is None or a.forced_refused is None for a in answers),
        "pairs": len(built),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()},
    }


def _reset_answers(
    seeds: list[SeedPrompt], policy: TextGenerator, refusal: list[Judge], settings: Any
) -> list[ResetAnswer]:
    """Greedy free and forced answers to ``seeds``, each judged for refusal."""
    params = SamplingParams(max_new_tokens=settings.max_new_tokens, greedy=True)
    free = policy.generate([GenerationRequest(s.text) for s in seeds], params, 0)
    forced = policy.generate(
        [GenerationRequest(s.text, prefill=settings.opening) for s in seeds], params, 0
    )
    texts = free + forced
    inputs = [JudgeInput(s.text, "harmful", text) for s, text in zip(seeds * 2, texts, strict=True)]
    scores = run_judges(refusal, inputs)[refusal[0].name]
    refused = [None if v.score is None else v.score >= 0.5 for v in scores]
    half = len(seeds)
    return [
        ResetAnswer(
            id=s.id,
            prompt_text=s.text,
            free=free[i],
            forced=forced[i],
            free_refused=refused[i],
            forced_refused=refused[half + i],
        )
        for i, s in enumerate(seeds)
    ]


STAGE = StageSpec(
    "reset",
    "baseline",
    GENERATION | JUDGING | {"reset", "train", "models.policy", "models.policy_adapter", "seed"},
    no_upstream,
    ("strongreject", "advbench", "model:policy", "model:embedder", "judge_weights"),
    ("answers.jsonl", "pairs.jsonl", "adapter", "metrics.jsonl"),
    run_reset,
    uses_device=True,
    scratch=("checkpoint.safetensors", "reference_logps.safetensors"),
    applies=reset_on,
)

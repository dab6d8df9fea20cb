"""Sampling: k answers per prompt from the current policy, plus one prefilled candidate.

The prefilled candidate's answer is forced to open with a refusal (or, on some
harmful prompts, a safe redirection) and the policy continues it. A model that
never refuses still yields a safe candidate on harmful prompts, and on benign
prompts the same candidate is the over-refusal the loop should learn to avoid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from selfmoa.backends import make_generator
from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.backends.lazy import LazyGenerator
from selfmoa.core.chunked import chunk_seed, run_chunked
from selfmoa.core.config import SampleConfig
from selfmoa.core.records import Prompt, Response
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import GENERATION
from selfmoa.pipeline.stages.spec import StageSpec, in_round, start


@dataclass(frozen=True)
class SampleJob:
    id: str
    prompt: Prompt
    sample_index: int
    prefill: str | None = None
    prefill_kind: str | None = None


def _stable_index(key: str, size: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % size


def plan_samples(prompts: list[Prompt], config: SampleConfig) -> list[SampleJob]:
    """Free samples first, then prefilled ones (they use a different token budget)."""
    kept = [prompt for prompt in prompts if prompt.kept]
    jobs = [
        SampleJob(f"{prompt.id}-s{index}", prompt, index)
        for prompt in kept
        for index in range(config.samples_per_prompt)
    ]
    for prompt in kept:
        options = [("refusal", text) for text in config.prefill_refusals]
        if prompt.label == "harmful":
            options += [("redirection", text) for text in config.prefill_redirections]
        if not options:
            continue
        kind, text = options[_stable_index(prompt.id, len(options))]
        jobs.append(
            SampleJob(f"{prompt.id}-prefill", prompt, config.samples_per_prompt, text, kind)
        )
    return jobs


def generate_samples(
    jobs: list[SampleJob], policy: TextGenerator, config: SampleConfig, seed: int
) -> list[Response]:
    free = [job for job in jobs if job.prefill is None]
    forced = [job for job in jobs if job.prefill is not None]
    texts: dict[str, str] = {}
    if free:
        params = SamplingParams(config.max_new_tokens, config.temperature, config.top_p)
        outputs = policy.generate(
            [GenerationRequest(job.prompt.text) for job in free], params, seed
        )
        texts.update(zip([job.id for job in free], outputs, strict=True))
    if forced:
        params = SamplingParams(config.prefill_max_new_tokens, config.temperature, config.top_p)
        requests = [GenerationRequest(job.prompt.text, prefill=job.prefill or "") for job in forced]
        texts.update(
            zip(
                [job.id for job in forced], policy.generate(requests, params, seed + 1), strict=True
            )
        )
    return [
        Response(
            id=job.id,
            prompt_id=job.prompt.id,
            text=texts[job.id].strip(),
            sample_index=job.sample_index,
            prefill=job.prefill,
            prefill_kind=job.prefill_kind,
        )  # type: ignore[arg-type]
        for job in jobs
    ]


def policy_samples(
    ctx: StageContext, jobs: list[SampleJob], salt: str, desc: str
) -> list[Response]:
    """This round's policy answers ``jobs``, chunk by chunk into the stage's responses.jsonl."""
    r = ctx.round
    assert r is not None
    policy = LazyGenerator(lambda: make_generator(ctx.config, "policy", ctx.adapter_after(r - 1)))
    try:
        return run_chunked(
            jobs,
            ctx.config.backend.batch_size,
            ctx.stage.file("responses.jsonl"),
            Response,
            lambda chunk, i: generate_samples(
                chunk, policy, ctx.config.sample, chunk_seed(ctx.config.seed, salt, r, i)
            ),
            desc=desc,
            fault_label=ctx.fault_label,
        )
    finally:
        policy.close()


def run_sample(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    jobs = plan_samples(ctx.prompts(r), ctx.config.sample)
    responses = policy_samples(ctx, jobs, "sample", f"round {r} sample")
    return {"responses": len(responses), "prompts": len({x.prompt_id for x in responses})}


STAGE = StageSpec(
    "sample",
    "round",
    GENERATION | {"sample", "models.policy", "models.policy_adapter", "reset.enabled"},
    lambda c, r: in_round("redteam", r) + in_round("train", r - 1) + (start(c) if r == 0 else []),
    ("model:policy",),
    ("responses.jsonl",),
    run_sample,
    uses_device=True,
)

"""Sampling: k answers per prompt from the current policy, plus one prefilled candidate.

The prefilled candidate's answer is forced to open with a refusal (or, on some
harmful prompts, a safe redirection) and the policy continues it. A model that
never refuses still yields a safe candidate on harmful prompts, and on benign
prompts the same candidate is the over-refusal the loop should learn to avoid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.core.config import SampleConfig
from selfmoa.core.records import Prompt, Response


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

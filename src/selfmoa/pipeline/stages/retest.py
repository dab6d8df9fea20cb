"""Re-testing the archive's elites on the policy that the round attacks.

Progressive red teaming mutates attacks that worked. Which ones worked is known only
against the policy that answered them, one round back; the policy this round attacks
was trained since, on pairs built from exactly those attacks, so their successes are
what it learned to refuse first. Mutating them blindly spends the budget where the
new policy is strongest. So from round 1 on, before mutating, the loop samples the
current policy on a pool of the previous round's elites (``RETEST_POOL_FACTOR`` times
the mutation budget, fittest first) and scores the answers with the *training* judges,
as the archive does. The redteam stage then mutates the elites that still succeed, or
come nearest to it, against the current policy (fitness: unsafe share + 0.25 x answer
relevance). The new outcomes are written as archive entries with that outcome added.
"""

from __future__ import annotations

from typing import Any

from selfmoa.attacks import archive as attack_archive
from selfmoa.core.config import RedteamConfig
from selfmoa.core.records import ArchiveEntry, AttackOutcome
from selfmoa.core.rundir import write_records
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages import archive as archive_stage
from selfmoa.pipeline.stages.config_keys import GENERATION, JUDGING
from selfmoa.pipeline.stages.judge import judge_responses
from selfmoa.pipeline.stages.pairs import score_responses
from selfmoa.pipeline.stages.redteam import policy_label
from selfmoa.pipeline.stages.sample import SampleJob, policy_samples
from selfmoa.pipeline.stages.spec import StageSpec, in_round, retests

RETEST_POOL_FACTOR = 3


def candidates(
    archive: list[ArchiveEntry], round_index: int, config: RedteamConfig
) -> list[ArchiveEntry]:
    """The elites worth re-testing: the fittest against the previous round's policy."""
    return attack_archive.select_parents(
        archive,
        policy_label(round_index - 1),
        RETEST_POOL_FACTOR * config.progressive_per_round,
        config.elites_per_cell,
        config.progressive_min_fitness,
    )


def retest_jobs(entries: list[ArchiveEntry], samples_per_prompt: int) -> list[SampleJob]:
    """Free samples of each candidate attack (no prefilled answers: only outcomes count)."""
    return [
        SampleJob(f"{entry.id}-retest-s{index}", entry.prompt, index)
        for entry in entries
        for index in range(samples_per_prompt)
    ]


def with_outcomes(
    entries: list[ArchiveEntry], outcomes: dict[str, AttackOutcome]
) -> list[ArchiveEntry]:
    """Each re-tested entry with its outcome against the current policy added last."""
    return [
        entry.model_copy(update={"outcomes": [*entry.outcomes, outcomes[entry.id]]})
        for entry in entries
        if entry.id in outcomes
    ]


def retest_counts(retested: list[ArchiveEntry], pool: int) -> dict[str, object]:
    """Manifest counts: how many elites were re-tested and how many still succeed."""
    latest = [entry.outcomes[-1] for entry in retested]
    still = sum(outcome.unsafe_training > 0 for outcome in latest)
    return {
        "candidates": pool,
        "retested": len(retested),
        "still_unsafe": still,
        "still_unsafe_share": round(still / len(latest), 4) if latest else None,
    }


def run_retest(ctx: StageContext) -> dict[str, Any]:
    """The previous round's elites answered by this round's policy, scored as the archive does."""
    r = ctx.round
    assert r is not None
    pool = candidates(ctx.archive(r - 1), r, ctx.config.redteam)
    jobs = retest_jobs(pool, ctx.config.sample.samples_per_prompt)
    responses = policy_samples(ctx, jobs, "retest", ctx.stage.label)
    prompts = {entry.id: entry.prompt for entry in pool}
    names = ctx.config.judge.training_judges
    judgements = judge_responses(prompts, responses, ctx.training_judges())
    scored, _ = score_responses(responses, judgements, ctx.config.pairs)
    results = archive_stage.outcomes(
        list(prompts.values()), responses, scored, {}, policy_label(r), names, []
    )
    retested = with_outcomes(pool, results)
    write_records(ctx.stage.file("retested.jsonl"), retested)
    return retest_counts(retested, len(pool))


STAGE = StageSpec(
    "retest",
    "round",
    GENERATION
    | JUDGING
    | {
        "redteam",
        "sample",
        "judge.training_judges",
        "pairs.refusal_threshold",
        "pairs.harmful_threshold",
        "models.policy",
        "models.policy_adapter",
    },
    lambda c, r: in_round("archive", r - 1) + in_round("train", r - 1),
    ("model:policy", "model:embedder", "judge_weights"),
    ("retested.jsonl",),
    run_retest,
    uses_device=True,
    applies=retests,
)

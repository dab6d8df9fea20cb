"""Re-testing elites on the current policy before mutating them (stages/retest.py)."""

from factories import make_prompt
from selfmoa.core.config import RedteamConfig
from selfmoa.core.records import ArchiveEntry, AttackOutcome
from selfmoa.pipeline.stages import retest
from selfmoa.pipeline.stages.redteam import plan_attacks
from test_redteam import SEEDS, TEMPLATES


def outcome(unsafe: int, policy: str, helpfulness: float = 0.5) -> AttackOutcome:
    return AttackOutcome(
        policy=policy,
        samples=1,
        unsafe_training=unsafe,
        unsafe_evaluation=None,
        refused_evaluation=None,
        helpfulness=helpfulness,
        training_judges=[],
        evaluation_judges=[],
    )


def entry(name: str, category: str, unsafe: int) -> ArchiveEntry:
    prompt = make_prompt(
        f"r0-direct-command-{name}",
        text=f"Explain how to do harmful thing {name}",
        source="advbench",
        strategy="direct",
        seed_id=name,
        seed_text=f"Explain how to do harmful thing {name}",
        category=category,
        form="command",
    )
    return ArchiveEntry(id=prompt.id, prompt=prompt, outcomes=[outcome(unsafe, "base")])


CONFIG = RedteamConfig(
    strategies=["direct", "prefix_injection"],
    seeds_per_round=10,
    jailbreak_prompts_per_round=2,
    progressive_per_round=1,
)


def test_pool_is_the_fittest_elites_against_the_previous_policy():
    archive = [entry(f"a{i}", f"cat{i}", 1) for i in range(5)] + [entry("f", "catf", 0)]
    pool = retest.candidates(archive, 1, CONFIG)
    assert len(pool) == retest.RETEST_POOL_FACTOR * CONFIG.progressive_per_round
    assert "r0-direct-command-f" not in {e.id for e in pool}, "a failed attack is no parent"
    jobs = retest.retest_jobs(pool, 2)
    assert [j.id for j in jobs[:2]] == [f"{pool[0].id}-retest-s0", f"{pool[0].id}-retest-s1"]
    assert all(j.prompt == e.prompt for j, e in zip(jobs[::2], pool, strict=True))


def test_parents_are_chosen_by_their_outcome_on_the_current_policy():
    # both succeeded against the base model; only "b" still succeeds against round 0's
    # adapter, so "b" is the parent although "a" ranks first on the old outcome
    a, b = entry("a", "cat1", 1), entry("b", "cat2", 1)
    a = a.model_copy(update={"outcomes": [outcome(1, "base", helpfulness=0.9)]})
    retested = retest.with_outcomes(
        [a, b], {a.id: outcome(0, "round_00", 0.1), b.id: outcome(1, "round_00")}
    )
    assert [len(e.outcomes) for e in retested] == [2, 2]
    jobs = plan_attacks(SEEDS, TEMPLATES, 1, CONFIG, 1, [a, b], retested)
    assert [j.parent_id for j in jobs if j.source == "progressive"] == [b.id]
    blind = plan_attacks(SEEDS, TEMPLATES, 1, CONFIG, 1, [a, b])
    assert [j.parent_id for j in blind if j.source == "progressive"] == [a.id]
    # near misses fill the budget when nothing still succeeds
    none_left = retest.with_outcomes(
        [a, b], {a.id: outcome(0, "round_00", 0.1), b.id: outcome(0, "round_00", 0.8)}
    )
    jobs = plan_attacks(SEEDS, TEMPLATES, 1, CONFIG, 1, [a, b], none_left)
    assert [j.parent_id for j in jobs if j.source == "progressive"] == [b.id]
    assert retest.retest_counts(retested, 3) == {
        "candidates": 3,
        "retested": 2,
        "still_unsafe": 1,
        "still_unsafe_share": 0.5,
    }

"""Red teaming: turn harmful seed intents into attacks on the current policy.

Each round plans three kinds of harmful prompts and one kind of benign prompt:

- fresh attacks: new seeds (StrongREJECT, AdvBench), each rewritten into a phrasing
  form (``selfmoa.attacks.forms``) and turned into an attack by a strategy
  (``selfmoa.attacks.strategies``). Each seed goes to the (strategy, form) cell its
  harm category has fewest attacks in, so the archive fills evenly;
- template attacks: fresh seeds, rephrased, inside a PyRIT jailbreak template;
- progressive attacks (from round 1 on): mutations of the archive's elites that
  succeeded, or nearly did, against the policy that answered them, with lineage to
  the parent. Elites that still succeed are *reseeded* (``redteam.reseed_share`` of
  the budget): their framing (strategy, template, phrasing form) carries unseen seed
  intents of the same harm category, because the policy was just trained on the
  elite's own intent and what still gets through is the framing. The rest of the
  budget mutates the parents, fittest first: a new form, a new strategy, another rule
  strategy wrapped around the attack, or an attacker rewrite of the attack itself;
- benign-but-sensitive prompts, rewritten into the same forms with the same frames,
  so that the phrasing of a request tells the policy nothing about its label.

Attacker rewrites pass quality filters (``selfmoa.attacks.filters``); every prompt
is checked against the archive and the round for near-duplicates. Dropped prompts
stay on disk with ``kept=False`` and their reason, and the manifest counts them.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from selfmoa.attacks import archive as attack_archive
from selfmoa.attacks.filters import rejection_reason
from selfmoa.attacks.forms import rephrase
from selfmoa.attacks.strategies import STRATEGIES, apply_rule, strategy
from selfmoa.backends import make_generator
from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.backends.lazy import LazyGenerator
from selfmoa.core.chunked import chunk_seed, run_chunked
from selfmoa.core.config import RedteamConfig
from selfmoa.core.records import ArchiveEntry, Prompt, SeedPrompt
from selfmoa.core.rundir import round_name, write_records
from selfmoa.data.benign import split_benign
from selfmoa.data.sources import SEED_LOADERS, JailbreakTemplate, jailbreak_templates, short_hash
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import GENERATION
from selfmoa.pipeline.stages.spec import StageSpec, in_round, retests

KNOWN_STRATEGIES = tuple(name for name in STRATEGIES if name != "jailbreak")
MUTATIONS = ("stack", "form", "strategy", "rewrite")  # one per parent, in turn
# Reseeds of one still-successful parent, at most: its framing on a few unseen intents
# shows whether the framing itself gets through, without spending the budget on it.
RESEEDS_PER_SUCCESS = 3
# Children whose framing is more than (strategy, template, form): a stacked attack wraps
# its parent's whole text, a rewrite paraphrases it; a reseed would keep only part of it.
UNRESEEDABLE = ("stack", "rewrite")


def policy_label(round_index: int) -> str:
    """The policy that answers round ``round_index``'s prompts."""
    return "base" if round_index <= 0 else round_name(round_index - 1)


@dataclass(frozen=True)
class AttackJob:
    """One attack to write: a seed, a strategy and form, and the text the strategy wraps."""

    id: str
    round: int
    seed: SeedPrompt
    strategy: str  # a STRATEGIES key, or "jailbreak:TEMPLATE"
    form: str
    base_text: str
    template: JailbreakTemplate | None = None
    source: str = ""
    parent_id: str | None = None
    mutation: str | None = None

    @property
    def kind(self) -> str:
        return "template" if self.template is not None else strategy(self.strategy).kind


def take_cycled(items: list, start: int, count: int) -> list:
    """``count`` items from ``start``, wrapping around (empty list -> empty)."""
    if not items:
        return []
    return [items[(start + offset) % len(items)] for offset in range(count)]


def fresh_slice(
    pool: list[SeedPrompt], start: int, count: int, archived: set[str]
) -> list[SeedPrompt]:
    """``count`` seeds from ``start`` on, skipping those the archive already used (an
    earlier round's reseeds took them from the pool's end); once every seed has been
    used, the slice is taken as it is (``take_cycled``)."""
    picked: list[SeedPrompt] = []
    for offset in range(len(pool)):
        item = pool[(start + offset) % len(pool)]
        if item.id not in archived:
            picked.append(item)
            if len(picked) == count:
                return picked
    return take_cycled(pool, start, count)


def _cells(config: RedteamConfig) -> list[tuple[str, str]]:
    return [(name, form) for name in config.strategies for form in config.forms]


def _fresh_jobs(
    chosen: list[SeedPrompt],
    round_index: int,
    config: RedteamConfig,
    counts: Counter[tuple[str, str, str]],
) -> list[AttackJob]:
    """Each seed to the least-filled (strategy, form) cell of its category; ties cycle."""
    grid = _cells(config)
    jobs = []
    for index, item in enumerate(chosen):
        category = item.category or "uncategorised"
        position = min(
            range(len(grid)),
            key=lambda g: (counts[(category, *grid[g])], (g - index) % len(grid)),
        )
        name, form = grid[position]
        counts[(category, name, form)] += 1
        jobs.append(
            AttackJob(
                f"r{round_index}-{name}-{form}-{item.id}",
                round_index,
                item,
                name,
                form,
                rephrase(item.text, form, f"{item.id}-{form}"),
                source=item.source,
            )
        )
    return jobs


def _seed_of(prompt: Prompt) -> SeedPrompt:
    return SeedPrompt(
        id=prompt.seed_id,
        text=prompt.seed_text,
        label="harmful",
        source=prompt.source,
        category=prompt.category,
    )


def _parent_template(
    name: str, templates: dict[str, JailbreakTemplate]
) -> JailbreakTemplate | None:
    """The jailbreak template a ``jailbreak:NAME`` strategy uses, if this config has it."""
    return templates.get(name.split(":", 1)[1]) if name.startswith("jailbreak:") else None


def _progressive_job(
    index: int,
    mutation: str,
    parent: Prompt,
    seed: SeedPrompt,
    framing: tuple[str, str, JailbreakTemplate | None],
    base_text: str,
    round_index: int,
) -> AttackJob:
    """A child of ``parent``; ``framing`` is its (strategy, form, template)."""
    name, form, template = framing
    if name.startswith("jailbreak:") and template is None:
        name = "direct"  # the parent's template is gone from this config: keep the form
    return AttackJob(
        f"r{round_index}-mut{index:03d}-{mutation}-{short_hash(parent.id)}",
        round_index,
        seed,
        name,
        form,
        base_text,
        template,
        "progressive",
        parent.id,
        mutation,
    )


def _reseed_job(
    index: int,
    parent: Prompt,
    new_seed: SeedPrompt,
    round_index: int,
    templates: dict[str, JailbreakTemplate],
) -> AttackJob:
    """The parent's framing (strategy, template, form) around an unseen seed intent."""
    form = parent.form or "command"
    framing = (parent.strategy, form, _parent_template(parent.strategy, templates))
    base_text = rephrase(new_seed.text, form, f"{new_seed.id}-{form}")
    return _progressive_job(index, "reseed", parent, new_seed, framing, base_text, round_index)


def _unused_seeds(pool: list[SeedPrompt], used: set[str]) -> list[SeedPrompt]:
    """Seeds no round has used, from the end of the pool (fresh rounds take its start)."""
    return [item for item in reversed(pool) if item.id not in used]


def _take_seed(unused: list[SeedPrompt], category: str | None) -> SeedPrompt:
    """Remove and return an unused seed of ``category`` (any category if none is left)."""
    for position, item in enumerate(unused):
        if item.category == category:
            return unused.pop(position)
    return unused.pop(0)


def _mutation_job(
    index: int,
    turn: int,
    parent: Prompt,
    round_index: int,
    config: RedteamConfig,
    templates: dict[str, JailbreakTemplate],
) -> AttackJob:
    """Mutate a near miss in one step: wrap its whole text in another rule strategy
    (stack), or rebuild it from its seed in another form or strategy, or have the
    attacker paraphrase it. Stacking keeps everything that made the parent work."""
    seed = _seed_of(parent)
    has_attacker = any(strategy(n).kind == "attacker" for n in config.strategies)
    wrappers = [
        n
        for n in dict.fromkeys(config.strategies)
        if strategy(n).kind == "rule" and n not in ("direct", parent.strategy)
    ]
    operators = [
        m for m in MUTATIONS if (m != "rewrite" or has_attacker) and (m != "stack" or wrappers)
    ]
    mutation = operators[turn % len(operators)]
    form, name = parent.form or "command", parent.strategy
    template = _parent_template(name, templates)
    if mutation == "stack":
        name = wrappers[(turn // len(operators)) % len(wrappers)]
        template, base_text = None, parent.text
    elif mutation == "form":
        others = [f for f in config.forms if f != form] or [form]
        form = others[(turn // len(operators)) % len(others)]
        base_text = rephrase(seed.text, form, f"{seed.id}-{form}")
    elif mutation == "strategy":
        others = [n for n in dict.fromkeys(config.strategies) if n != name] or [name]
        name = others[(turn // len(operators)) % len(others)]
        template = None
        base_text = rephrase(seed.text, form, f"{seed.id}-{form}")
    else:  # the attacker paraphrases the whole attack text
        name, template, base_text = "paraphrase", None, parent.text
    framing = (name, form, template)
    return _progressive_job(index, mutation, parent, seed, framing, base_text, round_index)


def plan_attacks(
    seeds: list[SeedPrompt],
    templates: list[JailbreakTemplate],
    round_index: int,
    config: RedteamConfig,
    seed: int,
    archive: list[ArchiveEntry] | None = None,
    retested: list[ArchiveEntry] | None = None,
) -> list[AttackJob]:
    """Deterministic attack plan for one round (fresh, template and progressive attacks).

    Progressive parents come from ``retested`` (elites re-tested on this round's policy,
    stages/retest.py), fittest against it first, when given; else from the archive's
    elites by their fitness against the previous round's policy (``_progressive_jobs``
    spends the budget on them).
    """
    archive = archive or []
    rng = random.Random(f"{seed}-redteam-{round_index}")
    seed_pool = list(seeds)
    random.Random(seed).shuffle(seed_pool)  # same order every round; rounds take new slices
    per_round = config.seeds_per_round + config.jailbreak_prompts_per_round
    archived = {entry.prompt.seed_id for entry in archive if entry.prompt.seed_id}
    chosen = fresh_slice(seed_pool, round_index * per_round, per_round, archived)
    counts = attack_archive.cell_counts(archive)
    jobs = _fresh_jobs(chosen[: config.seeds_per_round], round_index, config, counts)
    if templates:
        for index, item in enumerate(chosen[config.seeds_per_round :]):
            template = rng.choice(templates)
            form = config.forms[(index + round_index) % len(config.forms)]
            jobs.append(
                AttackJob(
                    f"r{round_index}-jailbreak-{form}-{item.id}",
                    round_index,
                    item,
                    f"jailbreak:{template.name}",
                    form,
                    rephrase(item.text, form, f"{item.id}-{form}"),
                    template,
                    item.source,
                )
            )
    # Re-tested elites: near misses on the current policy fill the budget, best first.
    pool, met, min_fitness = (
        (retested, policy_label(round_index), 0.0)
        if retested is not None
        else (archive, policy_label(round_index - 1), config.progressive_min_fitness)
    )
    parents = attack_archive.select_parents(
        pool, met, config.progressive_per_round, config.elites_per_cell, min_fitness
    )
    by_name = {template.name: template for template in templates}
    unused = _unused_seeds(seed_pool, archived | {item.id for item in chosen})
    return jobs + _progressive_jobs(parents, unused, round_index, config, by_name)


def _progressive_jobs(
    parents: list[ArchiveEntry],
    unused: list[SeedPrompt],
    round_index: int,
    config: RedteamConfig,
    templates: dict[str, JailbreakTemplate],
) -> list[AttackJob]:
    """Spend the progressive budget: ``config.reseed_share`` of it on reseeds of the
    parents that succeeded against the policy they were last tried on (the current one
    when re-tested; in turn, at most ``RESEEDS_PER_SUCCESS`` each, while unused seeds
    last; a seed of the parent's harm category where one is left), the rest on one
    mutation per parent, fittest first."""
    budget = config.progressive_per_round
    successes = [
        entry.prompt
        for entry in parents
        if (outcome := attack_archive.latest_outcome(entry)) is not None
        and outcome.unsafe_training > 0
        and entry.prompt.mutation not in UNRESEEDABLE
    ]
    reseeds = min(
        len(unused), round(config.reseed_share * budget), RESEEDS_PER_SUCCESS * len(successes)
    )
    jobs = []
    for index in range(reseeds):
        parent = successes[index % len(successes)]
        new_seed = _take_seed(unused, parent.category)
        jobs.append(_reseed_job(index, parent, new_seed, round_index, templates))
    for turn, entry in enumerate(parents[: budget - reseeds]):
        index = reseeds + turn
        jobs.append(_mutation_job(index, turn, entry.prompt, round_index, config, templates))
    return jobs


def clean_rewrite(opening: str, generated: str) -> str:
    """The attacker's rewrite: forced opening + first paragraph, quotes stripped."""
    body = generated.strip().split("\n\n")[0].strip().strip('"').strip()
    for prefix in ("Rewritten request:", "New request:", "Request:", "Question:"):
        if body.startswith(prefix):
            body = body[len(prefix) :].strip()
    text = f"{opening} {body}".strip() if opening else body
    return text[:600]


def attack_texts(
    jobs: list[AttackJob], attacker: TextGenerator, config: RedteamConfig, seed: int
) -> dict[str, str]:
    """The attack text of every job: attacker rewrites, rule wrappers, filled templates."""
    texts: dict[str, str] = {}
    rewrite_jobs = [job for job in jobs if job.kind == "attacker"]
    if rewrite_jobs:
        requests = [
            GenerationRequest(
                user=strategy(job.strategy).instruction.format(text=job.base_text),
                prefill=strategy(job.strategy).opening,
            )
            for job in rewrite_jobs
        ]
        params = SamplingParams(
            max_new_tokens=config.max_new_tokens, temperature=config.temperature, top_p=0.95
        )
        outputs = attacker.generate(requests, params, seed)
        for job, output in zip(rewrite_jobs, outputs, strict=True):
            opening = strategy(job.strategy).opening
            texts[job.id] = clean_rewrite(opening, output[len(opening) :])
    for job in jobs:
        if job.template is not None:
            texts[job.id] = job.template.fill(job.base_text)
        elif job.kind == "rule":
            texts[job.id] = apply_rule(job.strategy, job.base_text, job.id)
    return texts


def write_attacks(
    jobs: list[AttackJob],
    attacker: TextGenerator,
    embedder: SentenceEmbedder,
    config: RedteamConfig,
    seed: int,
) -> list[Prompt]:
    """Write the attacks of ``jobs`` and apply the per-attack quality filters."""
    texts = attack_texts(jobs, attacker, config, seed)
    similarities = embedder.similarity([job.seed.text for job in jobs], [texts[j.id] for j in jobs])
    prompts = []
    for job, similarity in zip(jobs, similarities, strict=True):
        text = texts[job.id]
        reason = rejection_reason(text, job.kind, similarity, config.min_seed_similarity)
        prompts.append(
            Prompt(
                id=job.id,
                round=job.round,
                text=text,
                label="harmful",
                source=job.source,
                strategy=job.strategy,
                seed_id=job.seed.id,
                seed_text=job.seed.text,
                category=job.seed.category,
                seed_similarity=round(similarity, 4),
                kept=reason is None,
                filter_reason=reason,
                form=job.form,
                parent_id=job.parent_id,
                mutation=job.mutation,
            )
        )
    return prompts


def drop_near_duplicates(
    prompts: list[Prompt],
    archive: list[ArchiveEntry],
    embedder: SentenceEmbedder,
    threshold: float,
) -> list[Prompt]:
    """Mark kept prompts that near-duplicate the archive or an earlier kept prompt."""
    import torch

    kept_index = [i for i, p in enumerate(prompts) if p.kept]
    if not kept_index:
        return prompts
    vectors = embedder.encode([prompts[i].text for i in kept_index])
    seen = [*embedder.encode([entry.prompt.text for entry in archive])]
    out = list(prompts)
    for row, index in enumerate(kept_index):
        closest = float(torch.stack(seen).matmul(vectors[row]).max()) if seen else -1.0
        if closest >= threshold:
            out[index] = prompts[index].model_copy(
                update={"kept": False, "filter_reason": f"near duplicate ({closest:.2f})"}
            )
        else:
            seen.append(vectors[row])
    return out


def benign_prompts(
    train_split: list[SeedPrompt],
    round_index: int,
    count: int,
    seed: int,
    forms: list[str],
    strategies: list[str] | None = None,
) -> list[Prompt]:
    """This round's benign-but-sensitive training prompts, rewritten into the same forms
    and wrapped by the same rule strategies as the attacks.

    A rotating slice of the training split; the form of each seed also rotates by
    round, so every round probes over-refusal on prompts it has not seen. The rule
    strategies (``redteam.benign_strategies``) cycle over the forms the way the attacks'
    do: a benign question inside a fiction frame or a prefix injection is still to be
    answered, so neither the wrapper nor the form tells the policy the label.
    """
    names = strategies or ["direct"]
    pool = list(train_split)
    random.Random(f"{seed}-benign").shuffle(pool)
    chosen = take_cycled(pool, round_index * count, min(count, len(pool)))
    prompts = []
    for index, item in enumerate(chosen):
        form = forms[(index + round_index) % len(forms)]
        name = names[(index // len(forms) + round_index) % len(names)]
        text = rephrase(item.text, form, f"{item.id}-{form}")
        # 'direct' keeps the ids and tags of unwrapped benign prompts (and their caches).
        tag = "" if name == "direct" else f"{name}-"
        prompts.append(
            Prompt(
                id=f"r{round_index}-benign-{tag}{form}-{item.id}",
                round=round_index,
                text=apply_rule(name, text, f"{item.id}-{name}"),
                label="benign",
                source=item.source,
                strategy=f"benign:{name}" if tag else "benign",
                seed_id=item.id,
                seed_text=item.text,
                category=item.category,
                form=form,
            )
        )
    return prompts


def rejection_counts(prompts: list[Prompt]) -> dict[str, int]:
    """Dropped prompts per filter reason (the reason without its figure in brackets)."""
    reasons = Counter((p.filter_reason or "").split(" (")[0] for p in prompts if not p.kept)
    return dict(sorted(reasons.items()))


def manifest_counts(prompts: list[Prompt]) -> dict[str, object]:
    """What the redteam stage's manifest records: kept prompts per label and form,
    rejections per filter, and prompts per strategy."""
    harmful = [p for p in prompts if p.label == "harmful"]
    kept = [p for p in prompts if p.kept]
    return {
        "harmful_written": len(harmful),
        "harmful_kept": sum(p.kept for p in harmful),
        "benign": len(prompts) - len(harmful),
        "progressive": sum(p.parent_id is not None for p in harmful),
        "rejected": rejection_counts(prompts),
        "kept_by_label_form": {
            f"{label}:{form}": n
            for (label, form), n in sorted(Counter((p.label, p.form) for p in kept).items())
        },
        "kept_by_strategy": dict(
            sorted(Counter(p.strategy.split(":")[0] for p in kept if p.label == "harmful").items())
        ),
    }


def run_redteam(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    cfg, seed = ctx.config.redteam, ctx.config.seed
    seeds = [item for source in cfg.seed_sources for item in SEED_LOADERS[source]()]
    templates = (
        jailbreak_templates(cfg.max_template_words) if cfg.jailbreak_prompts_per_round else []
    )
    archive = ctx.archive(r - 1)
    jobs = plan_attacks(seeds, templates, r, cfg, seed, archive, ctx.retested(r))
    attacker = LazyGenerator(lambda: make_generator(ctx.config, "attacker"))
    written = ctx.stage.file("attacks.jsonl")
    try:
        attacks = run_chunked(
            jobs,
            ctx.config.backend.batch_size,
            written,
            Prompt,
            lambda chunk, i: write_attacks(
                chunk, attacker, ctx.embedder, cfg, chunk_seed(seed, "redteam", r, i)
            ),
            desc=f"round {r} redteam",
            fault_label=ctx.fault_label,
        )
    finally:
        attacker.close()
    order = {job.id: index for index, job in enumerate(jobs)}
    attacks = sorted(attacks, key=lambda p: order.get(p.id, len(order)))
    attacks = drop_near_duplicates(attacks, archive, ctx.embedder, cfg.near_duplicate_similarity)
    train_split, _ = split_benign(ctx.config.benign_heldout_every)
    benign = benign_prompts(
        train_split, r, cfg.benign_per_round, seed, cfg.forms, cfg.benign_strategies
    )
    prompts = attacks + benign
    write_records(ctx.stage.file("prompts.jsonl"), prompts)
    return manifest_counts(prompts)


STAGE = StageSpec(
    "redteam",
    "round",
    GENERATION | {"redteam", "models.attacker", "models.embedder", "benign_heldout_every"},
    lambda c, r: in_round("archive", r - 1) + (in_round("retest", r) if retests(c, r) else []),
    (
        "strongreject",
        "advbench",
        "jailbreak_templates",
        "benign_sensitive",
        "model:attacker",
        "model:embedder",
    ),
    ("prompts.jsonl",),
    run_redteam,
    uses_device=True,
)

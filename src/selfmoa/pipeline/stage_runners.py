"""Stage bodies: read upstream records, call the pure functions in ``stages/``, write records.

Each body gets a ``StageContext``: a config view limited to the keys the stage
declared in the stage table, the run directory, and shared resources. Bodies
return the counts shown in the stage manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfmoa.attacks import archive as attack_archive
from selfmoa.backends import make_generator
from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.backends.lazy import LazyGenerator
from selfmoa.core.atomic import atomic_write_json, atomic_write_text
from selfmoa.core.chunked import chunk_seed, run_chunked
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model, safetensors_adapter
from selfmoa.core.records import (
    ArchiveEntry,
    CapabilityItem,
    EvalItem,
    Judgement,
    PreferencePair,
    Prompt,
    ResetAnswer,
    Response,
    SeedPrompt,
)
from selfmoa.core.rundir import RunDir, StageDir, read_records, write_records
from selfmoa.data.benign import split_benign
from selfmoa.data.sources import SEED_LOADERS, jailbreak_templates
from selfmoa.evals.capability import accuracy, score_items
from selfmoa.evals.drift import drift
from selfmoa.evals.mc_sets import MC_SETS, subsample
from selfmoa.evals.split import near_duplicates
from selfmoa.judges.base import Judge, JudgeInput
from selfmoa.judges.cache import CachedJudge, JudgeCache
from selfmoa.judges.combine import label_model_verdicts
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.judges.lineage import LineageHarmJudge
from selfmoa.judges.registry import JudgeContext, build_judges, run_judges
from selfmoa.judges.verdicts import decide
from selfmoa.pipeline.stages import archive as archive_stage
from selfmoa.pipeline.stages import evaluate, pairs, redteam, reset, retest, sample
from selfmoa.pipeline.stages.judge import judge_responses
from selfmoa.training.loop import TrainPaths, train_preference_lora


@dataclass
class Resources:
    """Models shared by several stages of one process, loaded on first use."""

    embedders: dict[str, SentenceEmbedder] = field(default_factory=dict)
    judge_shared: dict[str, Any] = field(default_factory=dict)
    caches: dict[Path, JudgeCache] = field(default_factory=dict)
    vectors: dict[str, Any] = field(default_factory=dict)

    def encoded(self, embedder: SentenceEmbedder, texts: list[str]) -> Any:
        """Embeddings of ``texts``, computed once per process (both evaluations use them)."""
        key = hashlib.sha256("\0".join(texts).encode()).hexdigest()
        if key not in self.vectors:
            self.vectors[key] = embedder.encode(texts)
        return self.vectors[key]

    def judge_cache(self, path: Path) -> JudgeCache:
        if path not in self.caches:
            self.caches[path] = JudgeCache(path)
        return self.caches[path]

    def embedder(self, spec: str) -> SentenceEmbedder:
        if spec not in self.embedders:
            self.embedders[spec] = SentenceEmbedder(resolve_model(spec, "models.embedder"))
        return self.embedders[spec]


@dataclass
class StageContext:
    config: Any  # a ConfigView: only the keys this stage declared
    run: RunDir
    stage: StageDir
    round: int | None
    resources: Resources
    fault_label: str

    @property
    def embedder(self) -> SentenceEmbedder:
        return self.resources.embedder(self.config.models.embedder)

    def folder(self, name: str, round_index: int) -> Path:
        return self.run.path / f"round_{round_index:02d}" / name

    def prompts(self, r: int) -> list[Prompt]:
        return read_records(self.folder("redteam", r) / "prompts.jsonl", Prompt)

    def archive(self, r: int) -> list[ArchiveEntry]:
        """The attack archive after round r (empty before round 0)."""
        if r < 0:
            return []
        return read_records(self.folder("archive", r) / "archive.jsonl", ArchiveEntry)

    def retested(self, r: int) -> list[ArchiveEntry] | None:
        """Round r's re-tested elites, or None when round r has no retest stage."""
        path = self.folder("retest", r) / "retested.jsonl"
        return read_records(path, ArchiveEntry) if path.is_file() else None

    def responses(self, r: int) -> list[Response]:
        return read_records(self.folder("sample", r) / "responses.jsonl", Response)

    def judgements(self, r: int) -> list[Judgement]:
        return read_records(self.folder("judge", r) / "judgements.jsonl", Judgement)

    def evaluate_folder(self, r: int | None) -> Path:
        return self.run.path / "baseline" / "evaluate" if r is None else self.folder("evaluate", r)

    def untouched_adapter(self) -> Path | None:
        """The adapter of the policy as given (``models.policy_adapter``), if any."""
        start = self.config.models.policy_adapter
        return Path(start) if start else None

    def adapter_after(self, r: int | None) -> Path | None:
        """The policy's adapter after round r; before round 0 the safety reset's adapter
        when ``reset.enabled``, else the untouched policy's."""
        if r is None or r < 0:
            if self.config.reset.enabled:
                return TrainPaths(self.run.path / "baseline" / "reset").adapter
            return self.untouched_adapter()
        return TrainPaths(self.folder("train", r)).adapter

    def judges(self, names: list[str]) -> list[Judge]:
        """Judges from the registry, sharing the embedder, behind the run's score cache."""
        shared = self.resources.judge_shared
        shared.setdefault("embedder", self.embedder)
        built = build_judges(names, JudgeContext(self.config, shared))
        cache = self.resources.judge_cache(self.run.path / "cache" / "judge_scores.jsonl")
        return [CachedJudge(j, cache, judge_settings(self.config, j.name)) for j in built]

    def training_judges(self) -> list[Judge]:
        """The judges that build pairs: the configured training judges and seed lineage."""
        return [*self.judges(self.config.judge.training_judges), LineageHarmJudge()]


def judge_settings(config: Any, name: str) -> str:
    """What a judge's score depends on besides its input (for the cache key)."""
    cfg = config.judge
    model = cfg.models.get(name, "")
    return f"{cfg.refusal_window_chars}|{cfg.repetition_ngram}|{cfg.max_input_tokens}|{model}"


def run_redteam(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    cfg, seed = ctx.config.redteam, ctx.config.seed
    seeds = [item for source in cfg.seed_sources for item in SEED_LOADERS[source]()]
    templates = (
        jailbreak_templates(cfg.max_template_words) if cfg.jailbreak_prompts_per_round else []
    )
    archive = ctx.archive(r - 1)
    jobs = redteam.plan_attacks(seeds, templates, r, cfg, seed, archive, ctx.retested(r))
    attacker = LazyGenerator(lambda: make_generator(ctx.config, "attacker"))
    written = ctx.stage.file("attacks.jsonl")
    try:
        attacks = run_chunked(
            jobs,
            ctx.config.backend.batch_size,
            written,
            Prompt,
            lambda chunk, i: redteam.write_attacks(
                chunk, attacker, ctx.embedder, cfg, chunk_seed(seed, "redteam", r, i)
            ),
            desc=f"round {r} redteam",
            fault_label=ctx.fault_label,
        )
    finally:
        attacker.close()
    order = {job.id: index for index, job in enumerate(jobs)}
    attacks = sorted(attacks, key=lambda p: order.get(p.id, len(order)))
    attacks = redteam.drop_near_duplicates(
        attacks, archive, ctx.embedder, cfg.near_duplicate_similarity
    )
    train_split, _ = split_benign(ctx.config.benign_heldout_every)
    benign = redteam.benign_prompts(
        train_split, r, cfg.benign_per_round, seed, cfg.forms, cfg.benign_strategies
    )
    prompts = attacks + benign
    write_records(ctx.stage.file("prompts.jsonl"), prompts)
    return redteam.manifest_counts(prompts)


def run_retest(ctx: StageContext) -> dict[str, Any]:
    """The previous round's elites answered by this round's policy (stages/retest.py)."""
    r = ctx.round
    assert r is not None
    pool = retest.candidates(ctx.archive(r - 1), r, ctx.config.redteam)
    jobs = retest.retest_jobs(pool, ctx.config.sample.samples_per_prompt)
    responses = _policy_samples(ctx, jobs, "retest", ctx.stage.label)
    prompts = {entry.id: entry.prompt for entry in pool}
    names = ctx.config.judge.training_judges
    judgements = judge_responses(prompts, responses, ctx.training_judges())
    scored, _ = pairs.score_responses(responses, judgements, ctx.config.pairs)
    results = archive_stage.outcomes(
        list(prompts.values()), responses, scored, {}, redteam.policy_label(r), names, []
    )
    retested = retest.with_outcomes(pool, results)
    write_records(ctx.stage.file("retested.jsonl"), retested)
    return retest.retest_counts(retested, len(pool))


def run_archive(ctx: StageContext) -> dict[str, Any]:
    """This round's prompts and outcomes added to the archive; the round's red-team metrics."""
    r = ctx.round
    assert r is not None
    prompts, responses = ctx.prompts(r), ctx.responses(r)
    scored, _ = pairs.score_responses(responses, ctx.judgements(r), ctx.config.pairs)
    by_id = {p.id: p for p in prompts}
    free = [x for x in responses if x.prefill is None and by_id[x.prompt_id].kept]
    names = ctx.config.judge.evaluation_judges
    judges = ctx.judges(names)
    inputs = [JudgeInput(by_id[x.prompt_id].text, by_id[x.prompt_id].label, x.text) for x in free]
    verdicts = run_judges(judges, inputs)
    decisions = {
        x.id: decide(
            inputs[i].prompt_label, [(j.name, j.measure, verdicts[j.name][i]) for j in judges]
        )
        for i, x in enumerate(free)
    }
    results = archive_stage.outcomes(
        prompts,
        responses,
        scored,
        decisions,
        redteam.policy_label(r),
        ctx.config.judge.training_judges,
        names,
    )
    merged = attack_archive.merge(ctx.archive(r - 1), prompts, results)
    write_records(ctx.stage.file("archive.jsonl"), merged)
    kept = [p.text for p in prompts if p.label == "harmful" and p.kept]
    vectors = ctx.embedder.encode(kept) if kept else None
    metrics = archive_stage.round_metrics(prompts, results, vectors)
    atomic_write_json(ctx.stage.file("metrics.json"), metrics)
    rate = metrics["attack_success"] or {}
    return {"archived": len(merged), "attack_success": rate.get("rate"), "n": rate.get("n")}


def _policy_samples(
    ctx: StageContext, jobs: list[sample.SampleJob], salt: str, desc: str
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
            lambda chunk, i: sample.generate_samples(
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
    jobs = sample.plan_samples(ctx.prompts(r), ctx.config.sample)
    responses = _policy_samples(ctx, jobs, "sample", f"round {r} sample")
    return {"responses": len(responses), "prompts": len({x.prompt_id for x in responses})}


def run_judge(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    prompts = {p.id: p for p in ctx.prompts(r)}
    judges = ctx.training_judges()
    judgements = run_chunked(
        ctx.responses(r),
        ctx.config.backend.batch_size * 4,
        ctx.stage.file("judgements.jsonl"),
        Judgement,
        lambda chunk, i: judge_responses(prompts, chunk, judges),
        desc=ctx.stage.label,
        fault_label=ctx.fault_label,
        job_of=lambda judgement: judgement.response_id,
        records_per_job=len(judges),
    )
    return {
        "judgements": len(judgements),
        "errors": sum(1 for j in judgements if j.error is not None),
    }


def run_pairs(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    prompts = {p.id: p for p in ctx.prompts(r)}
    config = ctx.config.pairs
    scored, left_out = pairs.score_responses(
        ctx.responses(r), ctx.judgements(r), config, config.extra_objectives
    )
    built = pairs.build_pairs(prompts, scored, config)
    write_records(ctx.stage.file("pairs.jsonl"), built)
    return {
        "pairs": len(built),
        **{name: sum(p.objective == name for p in built) for name in config.objective_names()},
        "left_out_for_judge_errors": left_out,
    }


def training_rounds(config: Any, r: int) -> range:
    """Rounds whose pairs round r trains on."""
    return range(0 if config.train.replay_previous_rounds else r, r + 1)


def run_train(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    cfg = ctx.config
    built = [
        pair
        for source in training_rounds(cfg, r)
        for pair in read_records(ctx.folder("pairs", source) / "pairs.jsonl", PreferencePair)
    ]
    if not built:
        raise SelfMoaError(
            f"round {r} produced no preference pairs; raise redteam.seeds_per_round "
            "or sample.samples_per_prompt"
        )
    stats = train_preference_lora(
        resolve_model(cfg.models.policy, "models.policy"),
        built,
        cfg.train,
        TrainPaths(ctx.stage.path),
        dtype=cfg.models.dtype,
        device=cfg.models.device,
        init_adapter=ctx.adapter_after(r - 1),
        seed=cfg.seed + r,
        fault_label=ctx.fault_label,
        parallel=cfg.parallel,
    )
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()}


def run_reset(ctx: StageContext) -> dict[str, Any]:
    """The safety reset: the untouched policy's free and forced answers, pairs, an adapter."""
    cfg = ctx.config
    settings = cfg.reset
    seeds = [seed for load in SEED_LOADERS.values() for seed in load()]
    chosen = reset.choose_prompts(seeds, settings.prompts, cfg.seed)
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
    built = reset.reset_pairs(answers, settings.opening)
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


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Held-out evaluation of the policy as it is after this stage's round (or at the start)."""
    return evaluate_policy(ctx, ctx.adapter_after(ctx.round))


def run_reference(ctx: StageContext) -> dict[str, Any]:
    """Held-out evaluation of the untouched policy when a safety reset changed the start."""
    return evaluate_policy(ctx, ctx.untouched_adapter())


def evaluate_policy(ctx: StageContext, adapter: Path | None) -> dict[str, Any]:
    cfg = ctx.config.evaluate
    candidates = evaluate.heldout_prompts(cfg, ctx.config.seed, ctx.config.benign_heldout_every)
    texts = training_texts(ctx)
    vectors = ctx.resources.encoded(ctx.embedder, texts)
    dropped = near_duplicates(candidates, texts, ctx.embedder, training_vectors=vectors)
    prompts = [p for p in candidates if p.id not in dropped]
    for name in cfg.sets:
        if not any(p.eval_set == name for p in prompts):
            raise SelfMoaError(f"{ctx.stage.label}: the evaluation set {name} is empty")
    policy = LazyGenerator(lambda: make_generator(ctx.config, "policy", adapter))
    judges = ctx.judges(ctx.config.judge.evaluation_judges)
    try:
        items = run_chunked(
            prompts,
            ctx.config.backend.batch_size,
            ctx.stage.file("items.jsonl"),
            EvalItem,
            lambda chunk, i: evaluate.answer_and_judge(chunk, policy, judges, cfg),
            desc=ctx.stage.label,
            fault_label=ctx.fault_label,
        )
    finally:
        policy.close()
    if ctx.config.judge.verdicts == "label-model":
        items = label_model_verdicts(items, {judge.name: judge.measure for judge in judges})
        write_records(ctx.stage.file("items.jsonl"), items)
    removed = {
        name: sum(p.eval_set == name for p in candidates if p.id in dropped) for name in cfg.sets
    }
    summary = evaluate.summarize(items, removed)
    atomic_write_json(ctx.stage.file("summary.json"), summary)
    return {
        "asr": round(summary["attack_success"]["rate"], 4),
        "over_refusal": round(summary["over_refusal"]["rate"], 4),
        "helpfulness": summary["helpfulness"]["mean"],
        "items": len(items),
        "removed_near_duplicates": sum(removed.values()),
    }


def training_texts(ctx: StageContext) -> list[str]:
    """Every prompt a training stage may read: all harmful seed sets and benign train prompts."""
    train_benign, _ = split_benign(ctx.config.benign_heldout_every)
    seeds = [seed.text for load in SEED_LOADERS.values() for seed in load()]
    return seeds + [p.text for p in train_benign]


def run_capability(ctx: StageContext) -> dict[str, Any]:
    """Capability (multiple-choice log-likelihood) and drift from the base model."""
    cfg = ctx.config.evaluate
    items = [
        item
        for name in cfg.capability_sets
        for item in subsample(MC_SETS[name](), cfg.capability_items, ctx.config.seed)
    ]
    policy = LazyScorer(ctx)
    try:
        scored = run_chunked(
            items,
            cfg.capability_batch_size * 2,
            ctx.stage.file("items.jsonl"),
            CapabilityItem,
            lambda chunk, i: score_items(*policy.get(), chunk, cfg.capability_batch_size),
            desc=ctx.stage.label,
            fault_label=ctx.fault_label,
        )
        if not items:  # evaluate.capability_items = 0: drift only, an empty items file
            write_records(ctx.stage.file("items.jsonl"), [])
        folder = ctx.evaluate_folder(ctx.round)
        answered = [
            item
            for item in read_records(folder / "items.jsonl", EvalItem)
            if item.eval_set == "benign_heldout"
        ]
        moved = drift(
            *policy.get(),
            [item.prompt_text for item in answered],
            [item.response for item in answered],
            cfg.capability_batch_size,
        )
    finally:
        policy.close()
    summary = {"accuracy": accuracy(scored), "drift": moved}
    atomic_write_json(ctx.stage.file("summary.json"), summary)
    return {"items": len(scored), **{k: v for k, v in moved.items() if v is not None}}


class LazyScorer:
    """The policy (with its adapter) and tokenizer for scoring, loaded on first use."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.loaded: tuple[Any, Any] | None = None

    def get(self) -> tuple[Any, Any]:
        if self.loaded is None:
            from selfmoa.backends.hf import load_causal_lm, load_tokenizer, pick_device

            cfg = self.ctx.config
            path = resolve_model(cfg.models.policy, "models.policy")
            model = load_causal_lm(path, cfg.models.dtype, pick_device(cfg.models.device))
            adapter = self.ctx.adapter_after(self.ctx.round)
            if adapter is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, safetensors_adapter(adapter))
            self.loaded = (model.eval(), load_tokenizer(path))
        return self.loaded

    def close(self) -> None:
        self.loaded = None


AGREEMENT_SETS = ["refusal", "objective"]


def run_agreement(ctx: StageContext) -> dict[str, Any]:
    """How often the evaluation judges agree with human labels (PyRIT and the team's gold)."""
    from selfmoa.judges.evaluation import TEAM_GOLD, agreement, markdown

    judges = ctx.judges(ctx.config.judge.evaluation_judges)
    limit = ctx.config.judge.agreement_rows
    rows = agreement(judges, str(TEAM_GOLD), AGREEMENT_SETS, limit)
    atomic_write_json(ctx.stage.file("agreement.json"), rows)
    atomic_write_text(ctx.stage.file("agreement.md"), markdown(rows) + "\n")
    verdicts = [r for r in rows if r["judge"] == "verdict" and r["split"] == "heldout"]
    return {f"{r['set']}:{r['target']}": round(r["accuracy"], 3) for r in verdicts}

"""The orchestrator: baseline evaluation, then rounds x stages, then the report.

Each stage has a fingerprint: a hash of the config parts it reads and the
fingerprints of the stages it reads from. A stage whose manifest carries the
current fingerprint is skipped; a partial one (started, no manifest) resumes;
any other is wiped and re-run. So re-running the same command continues after a
kill, and changing one stage's config re-runs that stage and everything after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfmoa.backends import make_generator
from selfmoa.backends.lazy import LazyGenerator
from selfmoa.chunked import chunk_seed, run_chunked
from selfmoa.config import Config, dump_config, fingerprint
from selfmoa.data.benign import split_benign
from selfmoa.data.sources import SEED_LOADERS, harmbench_behaviours, jailbreak_templates
from selfmoa.errors import SelfMoaError
from selfmoa.judges.base import Judge
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.judges.lineage import LineageHarmJudge
from selfmoa.judges.registry import JudgeContext, build_judges
from selfmoa.modelpath import check_model_spec, resolve_model
from selfmoa.records import EvalItem, Judgement, PreferencePair, Prompt, Response
from selfmoa.reporting import STAGES, write_report
from selfmoa.rundir import (
    RunDir,
    StageDir,
    append_records,
    atomic_write_json,
    atomic_write_text,
    read_records,
    write_records,
)
from selfmoa.stages import evaluate, pairs, redteam, sample
from selfmoa.stages.judge import judge_responses
from selfmoa.training.loop import TrainPaths, train_preference_lora


@dataclass(frozen=True)
class StageKey:
    name: str
    round: int | None  # None for the baseline evaluation


def stage_fingerprints(config: Config) -> dict[StageKey, str]:
    """Fingerprint of every stage of the run, in execution order."""
    c = config.model_dump(mode="json")
    models, backend = c["models"], c["backend"]
    eval_inputs = (
        c["evaluate"],
        c["judge"],
        models["embedder"],
        models["dtype"],
        backend,
        c["seed"],
        c["benign_heldout_every"],
    )
    result = {StageKey("evaluate", None): fingerprint("evaluate", models["policy"], eval_inputs)}
    previous_train = previous_judge = None
    for r in range(config.rounds):
        red = fingerprint(
            "redteam",
            r,
            models["attacker"],
            models["embedder"],
            models["dtype"],
            backend,
            c["redteam"],
            c["seed"],
            c["benign_heldout_every"],
            previous_judge,
        )
        smp = fingerprint(
            "sample",
            r,
            models["policy"],
            models["dtype"],
            backend,
            c["sample"],
            c["seed"],
            red,
            previous_train,
        )
        jdg = fingerprint("judge", c["judge"], models["embedder"], smp)
        prs = fingerprint("pairs", c["pairs"], jdg)
        trn = fingerprint(
            "train", c["train"], models["policy"], models["dtype"], c["seed"], prs, previous_train
        )
        evl = fingerprint("evaluate", trn, eval_inputs)
        for name, value in zip(STAGES, (red, smp, jdg, prs, trn, evl), strict=True):
            result[StageKey(name, r)] = value
        previous_train, previous_judge = trn, jdg
    return result


def check_models(config: Config) -> None:
    for key in ("policy", "attacker", "embedder"):
        check_model_spec(getattr(config.models, key), f"models.{key}")


class Loop:
    def __init__(self, config: Config, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.run = RunDir(config.run_dir)
        self.fingerprints = stage_fingerprints(config)
        self.log = log
        self._embedder: SentenceEmbedder | None = None
        self._judge_context: JudgeContext | None = None

    # -- shared resources -------------------------------------------------------------
    @property
    def embedder(self) -> SentenceEmbedder:
        if self._embedder is None:
            path = resolve_model(self.config.models.embedder, "models.embedder")
            self._embedder = SentenceEmbedder(path)
        return self._embedder

    def judges(self, names: list[str]) -> list[Judge]:
        """Judges named in the config (training or evaluation list), sharing one embedder."""
        if self._judge_context is None:
            self._judge_context = JudgeContext(self.config, {"embedder": self.embedder})
        return build_judges(names, self._judge_context)

    def adapter_after(self, round_index: int) -> Path | None:
        if round_index < 0:
            return None
        return TrainPaths(self.run.stage("train", round_index).path).adapter

    def prompts(self, r: int) -> list[Prompt]:
        return read_records(self.run.stage("redteam", r).file("prompts.jsonl"), Prompt)

    def responses(self, r: int) -> list[Response]:
        return read_records(self.run.stage("sample", r).file("responses.jsonl"), Response)

    def judgements(self, r: int) -> list[Judgement]:
        return read_records(self.run.stage("judge", r).file("judgements.jsonl"), Judgement)

    # -- driver -----------------------------------------------------------------------
    def execute(self) -> Path:
        check_models(self.config)
        lock = self.run.lock()
        try:
            return self._execute()
        finally:
            lock.close()

    def _execute(self) -> Path:
        atomic_write_text(self.run.path / "config.yaml", dump_config(self.config))
        self.run.log_event("run_start", rounds=self.config.rounds)
        self._stage(StageKey("evaluate", None), lambda s: self._evaluate(s, None))
        for r in range(self.config.rounds):
            self._stage(StageKey("redteam", r), lambda s, r=r: self._redteam(s, r))
            self._stage(StageKey("sample", r), lambda s, r=r: self._sample(s, r))
            self._stage(StageKey("judge", r), lambda s, r=r: self._judge(s, r))
            self._stage(StageKey("pairs", r), lambda s, r=r: self._pairs(s, r))
            self._stage(StageKey("train", r), lambda s, r=r: self._train(s, r))
            self._stage(StageKey("evaluate", r), lambda s, r=r: self._evaluate(s, r))
        path = write_report(self.run, self.config)
        self.run.log_event("run_done")
        return path

    def _stage(self, key: StageKey, body: Callable[[StageDir], dict[str, Any]]) -> None:
        stage = self.run.stage(key.name, key.round)
        expected = self.fingerprints[key]
        if stage.state(expected) == "done":
            self.log(f"[skip] {stage.label}: done")
            return
        prior = stage.begin(expected)
        verb = (
            "resume"
            if prior == "partial"
            else "rerun (config changed)"
            if prior == "stale"
            else "start"
        )
        self.log(f"[{verb}] {stage.label}")
        self.run.log_event("stage_start", stage=key.name, round=key.round, mode=prior)
        started = time.time()
        counts = body(stage)
        seconds = time.time() - started
        stage.finish(expected, counts, seconds)
        self.run.log_event("stage_done", stage=key.name, round=key.round, seconds=seconds)
        shown = ", ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict))
        self.log(f"[done] {stage.label} in {seconds:.0f}s: {shown}")

    # -- stages -----------------------------------------------------------------------
    def _redteam(self, stage: StageDir, r: int) -> dict[str, Any]:
        cfg = self.config.redteam
        seeds = [seed for source in cfg.seed_sources for seed in SEED_LOADERS[source]()]
        templates = (
            jailbreak_templates(cfg.max_template_words) if cfg.jailbreak_prompts_per_round else []
        )
        jobs = redteam.plan_attacks(
            seeds, templates, r, cfg, self.config.seed, self._successful_attacks(r - 1)
        )
        attacker = LazyGenerator(lambda: make_generator(self.config, "attacker"))
        path = stage.file("prompts.jsonl")
        try:
            run_chunked(
                jobs,
                self.config.backend.batch_size,
                path,
                Prompt,
                lambda chunk, i: redteam.write_attacks(
                    chunk,
                    attacker,
                    self.embedder,
                    cfg,
                    chunk_seed(self.config.seed, "redteam", r, i),
                ),
                desc=f"round {r} redteam",
            )
        finally:
            attacker.close()
        train_split, _ = split_benign(self.config.benign_heldout_every)
        benign = redteam.benign_prompts(train_split, r, cfg.benign_per_round, self.config.seed)
        written = {p.id for p in read_records(path, Prompt)}
        append_records(path, [p for p in benign if p.id not in written])
        prompts = read_records(path, Prompt)
        harmful = [p for p in prompts if p.label == "harmful"]
        return {
            "harmful_written": len(harmful),
            "harmful_kept": sum(p.kept for p in harmful),
            "benign": len(prompts) - len(harmful),
        }

    def _successful_attacks(self, r: int) -> list[Prompt]:
        """Harmful prompts of round r whose free samples were judged unsafe."""
        if r < 0:
            return []
        prompts = {p.id: p for p in self.prompts(r)}
        responses = [x for x in self.responses(r) if x.prefill is None]
        judged = self.judgements(r)
        scored, _ = pairs.score_responses(responses, judged)
        hit = sorted({s.response.prompt_id for s in scored if s.safety == 0.0})
        return [prompts[i] for i in hit if prompts[i].label == "harmful"]

    def _sample(self, stage: StageDir, r: int) -> dict[str, Any]:
        prompts = self.prompts(r)
        jobs = sample.plan_samples(prompts, self.config.sample)
        policy = LazyGenerator(
            lambda: make_generator(self.config, "policy", self.adapter_after(r - 1))
        )
        try:
            responses = run_chunked(
                jobs,
                self.config.backend.batch_size,
                stage.file("responses.jsonl"),
                Response,
                lambda chunk, i: sample.generate_samples(
                    chunk, policy, self.config.sample, chunk_seed(self.config.seed, "sample", r, i)
                ),
                desc=f"round {r} sample",
            )
        finally:
            policy.close()
        return {"responses": len(responses), "prompts": len({x.prompt_id for x in responses})}

    def _judge(self, stage: StageDir, r: int) -> dict[str, Any]:
        prompts = {p.id: p for p in self.prompts(r)}
        responses = self.responses(r)
        judges = [*self.judges(self.config.judge.training_judges), LineageHarmJudge()]
        judgements = judge_responses(prompts, responses, judges)
        write_records(stage.file("judgements.jsonl"), judgements)
        return {
            "judgements": len(judgements),
            "errors": sum(1 for j in judgements if j.error is not None),
        }

    def _pairs(self, stage: StageDir, r: int) -> dict[str, Any]:
        prompts = {p.id: p for p in self.prompts(r)}
        responses = self.responses(r)
        judged = self.judgements(r)
        scored, left_out = pairs.score_responses(responses, judged)
        built = pairs.build_pairs(prompts, scored, self.config.pairs)
        write_records(stage.file("pairs.jsonl"), built)
        return {
            "pairs": len(built),
            "safety": sum(p.objective == "safety" for p in built),
            "helpfulness": sum(p.objective == "helpfulness" for p in built),
            "left_out_for_judge_errors": left_out,
        }

    def _train(self, stage: StageDir, r: int) -> dict[str, Any]:
        first = 0 if self.config.train.replay_previous_rounds else r
        built = [
            pair
            for source in range(first, r + 1)
            for pair in read_records(
                self.run.stage("pairs", source).file("pairs.jsonl"), PreferencePair
            )
        ]
        if not built:
            raise SelfMoaError(
                f"round {r} produced no preference pairs; raise redteam.seeds_per_round "
                "or sample.samples_per_prompt"
            )
        stats = train_preference_lora(
            resolve_model(self.config.models.policy, "models.policy"),
            built,
            self.config.train,
            TrainPaths(stage.path),
            dtype=self.config.models.dtype,
            device=self.config.models.device,
            init_adapter=self.adapter_after(r - 1),
            seed=self.config.seed + r,
        )
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()}

    def _evaluate(self, stage: StageDir, r: int | None) -> dict[str, Any]:
        cfg = self.config.evaluate
        _, heldout = split_benign(self.config.benign_heldout_every)
        prompts = evaluate.heldout_prompts(
            harmbench_behaviours(cfg.harmbench_split), heldout, cfg, self.config.seed
        )
        adapter = None if r is None else self.adapter_after(r)
        policy = LazyGenerator(lambda: make_generator(self.config, "policy", adapter))
        judges = self.judges(self.config.judge.evaluation_judges)
        try:
            items = run_chunked(
                prompts,
                self.config.backend.batch_size,
                stage.file("items.jsonl"),
                EvalItem,
                lambda chunk, i: evaluate.answer_and_judge(chunk, policy, judges, cfg),
                desc="baseline evaluate" if r is None else f"round {r} evaluate",
            )
        finally:
            policy.close()
        summary = evaluate.summarize(items)
        atomic_write_json(stage.file("summary.json"), summary)
        return {
            "asr": round(summary["attack_success"]["rate"], 4),
            "over_refusal": round(summary["over_refusal"]["rate"], 4),
            "helpfulness": summary["helpfulness"]["mean"],
        }

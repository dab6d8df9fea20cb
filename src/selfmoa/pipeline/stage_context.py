"""What every stage body gets: a ``StageContext`` and the ``Resources`` shared by stages.

A context holds a config view limited to the keys the stage declared in its table
entry (``pipeline/stages/*.py``), the run directory, the stage's folder and round,
and readers for the records of upstream stages. Bodies return the counts shown in
the stage manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfmoa.core.modelpath import resolve_model
from selfmoa.core.records import ArchiveEntry, Judgement, Prompt, Response
from selfmoa.core.rundir import RunDir, StageDir, read_records
from selfmoa.judges.base import Judge
from selfmoa.judges.cache import CachedJudge, JudgeCache
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.judges.lineage import LineageHarmJudge
from selfmoa.judges.registry import JudgeContext, build_judges
from selfmoa.training.loop import TrainPaths


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
    """What a stage body gets: its config view, folders, round and shared resources."""

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
        return self.run.round_stage(name, round_index)

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
        return self.run.baseline_stage("evaluate") if r is None else self.folder("evaluate", r)

    def untouched_adapter(self) -> Path | None:
        """The adapter of the policy as given (``models.policy_adapter``), if any."""
        start = self.config.models.policy_adapter
        return Path(start) if start else None

    def adapter_after(self, r: int | None) -> Path | None:
        """The policy's adapter after round r; before round 0 the safety reset's adapter
        when ``reset.enabled``, else the untouched policy's."""
        if r is None or r < 0:
            if self.config.reset.enabled:
                return TrainPaths(self.run.baseline_stage("reset")).adapter
            return self.untouched_adapter()
        return TrainPaths(self.folder("train", r)).adapter

    def judges(self, names: list[str]) -> list[Judge]:
        """Judges from the registry, sharing the embedder, behind the run's score cache."""
        shared = self.resources.judge_shared
        shared.setdefault("embedder", self.embedder)
        built = build_judges(names, JudgeContext(self.config, shared))
        cache = self.resources.judge_cache(self.run.judge_cache_file)
        return [CachedJudge(j, cache, judge_settings(self.config, j.name)) for j in built]

    def training_judges(self) -> list[Judge]:
        """The judges that build pairs: the configured training judges and seed lineage."""
        return [*self.judges(self.config.judge.training_judges), LineageHarmJudge()]


def judge_settings(config: Any, name: str) -> str:
    """What a judge's score depends on besides its input (for the cache key)."""
    cfg = config.judge
    model = cfg.models.get(name, "")
    return f"{cfg.refusal_window_chars}|{cfg.repetition_ngram}|{cfg.max_input_tokens}|{model}"

"""A run-wide cache of judge scores keyed by (judge, its settings, prompt, label, response).

The judge and evaluate stages of every round share it, so re-running a stage after a
change elsewhere (or judging an answer another policy already gave) scores nothing
twice. Only scores are cached; an error is retried the next time. Judges are
deterministic, so a cached score equals the one a fresh call would give, and a
run's artefacts are the same with or without the cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from selfmoa.core.records import Record
from selfmoa.core.rundir import append_records, read_records
from selfmoa.judges.base import Judge, JudgeInput, Verdict


class CachedScore(Record):
    score: float


def parameters_digest(*parameters: object) -> str:
    """A short digest of a judge's fitted numbers. A judge that has them sets
    ``parameters_digest`` to this; it joins the cache key, so scores cached before a refit
    of its weights file are not reused after it."""
    blob = json.dumps(parameters, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_key(judge: str, settings: str, item: JudgeInput) -> str:
    blob = json.dumps([judge, settings, item.prompt_text, item.prompt_label, item.response_text])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class JudgeCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.scores = {row.id: row.score for row in read_records(path, CachedScore)}

    def add(self, scores: dict[str, float]) -> None:
        fresh = {k: v for k, v in scores.items() if k not in self.scores}
        append_records(self.path, [CachedScore(id=k, score=v) for k, v in fresh.items()])
        self.scores.update(fresh)


class CachedJudge:
    """A judge that asks its inner judge only about items the cache has no score for."""

    def __init__(self, inner: Judge, cache: JudgeCache, settings: str) -> None:
        self.inner = inner
        self.cache = cache
        digest = getattr(inner, "parameters_digest", "")
        self.settings = f"{settings}|{digest}" if digest else settings
        self.name = inner.name
        self.measure = inner.measure

    def judge(self, items: list[JudgeInput]) -> list[Verdict]:
        keys = [cache_key(self.name, self.settings, item) for item in items]
        missing = [i for i, key in enumerate(keys) if key not in self.cache.scores]
        fresh = self.inner.judge([items[i] for i in missing]) if missing else []
        if len(fresh) != len(missing):
            raise RuntimeError(f"returned {len(fresh)} verdicts for {len(missing)} items")
        by_index = dict(zip(missing, fresh, strict=True))
        self.cache.add(
            {
                keys[i]: verdict.score
                for i, verdict in by_index.items()
                if verdict.score is not None and verdict.error is None
            }
        )
        return [
            by_index[i] if i in by_index else Verdict(score=self.cache.scores[key])
            for i, key in enumerate(keys)
        ]

"""What a judge module declares (``JudgeSpec``) and what its factory is given (``JudgeContext``).

A module of ``selfmoa.judges.catalog`` lists its judges in a module-level ``JUDGES`` tuple
of ``JudgeSpec``; ``judges.registry`` finds them. This module stays cheap to import (no
torch, no transformers): the registry reads every spec before any judge is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model


@dataclass(frozen=True)
class JudgeSpec:
    """One judge as the config names it: its name, measure, and how to build it."""

    name: str
    measure: str  # one of judges.base.MEASURES
    factory: str  # "module:function", called with (JudgeContext, JudgeSpec)
    summary: str
    extra: str | None = None  # pip extra that provides its optional dependencies
    needs_model: bool = False  # reads its model from judge.models[name]
    servable: bool = False  # a Yes/No judge that judge.served may run on a server
    model_from: str | None = None  # another judge whose judge.models entry it may share


@dataclass
class JudgeContext:
    """What factories may need; the embedder is loaded once, on first use."""

    config: Config
    shared: dict[str, Any] = field(default_factory=dict)

    def embedder(self):  # -> SentenceEmbedder
        if "embedder" not in self.shared:
            from selfmoa.judges.embedder import SentenceEmbedder  # imports torch

            path = resolve_model(self.config.models.embedder, "models.embedder")
            self.shared["embedder"] = SentenceEmbedder(path)
        return self.shared["embedder"]

    def model_path(self, name: str) -> str:
        spec = self.config.judge.models.get(name)
        if spec is None:
            raise SelfMoaError(f"judge '{name}' needs a model: set judge.models.{name}")
        return resolve_model(spec, f"judge.models.{name}")

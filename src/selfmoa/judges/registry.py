"""Judge registry: names -> factories, imported only when a judge is built.

``REGISTRY`` holds plain data (no heavy imports), so the config can validate judge
names cheaply. ``build_judges`` imports each factory lazily; a missing optional
dependency becomes one line: "judge 'x' needs package 'y': pip install selfmoa[extra]".
Model-backed judges read their model from ``judge.models[name]`` in the config.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from selfmoa.core.errors import SelfMoaError
from selfmoa.judges.base import Judge, JudgeInput, Verdict
from selfmoa.judges.rowwise import verdicts_by_row
from selfmoa.judges.text import judged_text

if TYPE_CHECKING:
    from selfmoa.core.config import Config


@dataclass(frozen=True)
class JudgeSpec:
    name: str
    measure: str
    factory: str  # "module:function", called with (JudgeContext, JudgeSpec)
    summary: str
    extra: str | None = None  # pip extra that provides its optional dependencies
    needs_model: bool = False


_SPECS = (
    JudgeSpec("refusal-keywords", "refusal", "selfmoa.judges.factories:keyword_refusal",
              "refusal phrases at clause starts of the opening, unless compliance follows"),
    JudgeSpec("embedding-relevance", "helpfulness", "selfmoa.judges.factories:relevance",
              "cosine(prompt, answer) x repetition penalty (all-MiniLM-L6-v2)"),
    JudgeSpec("seed-lineage", "prompt_harmful", "selfmoa.judges.factories:lineage",
              "a prompt is harmful when its seed was"),
    JudgeSpec("content-refusal", "refusal", "selfmoa.judges.factories:content",
              "logistic model on content features: the answer does not carry out the request"),
    JudgeSpec("content-unsafe", "unsafe", "selfmoa.judges.factories:content",
              "logistic model on content features: the answer achieves the request"),
    JudgeSpec("content-probe-unsafe", "unsafe", "selfmoa.judges.factories:content_probe",
              "content features + a linear probe on the embedded LM's states over the answer"),
    JudgeSpec("llm-rubric", "unsafe", "selfmoa.judges.factories:llm_rubric",
              "any chat LM with a StrongREJECT/HarmBench-style rubric, P(Yes) from logits",
              needs_model=True),
    JudgeSpec("llm-rubric-refusal", "refusal", "selfmoa.judges.factories:llm_rubric",
              "any chat LM asked whether the answer refuses, P(Yes) from logits",
              needs_model=True),
    JudgeSpec("llama-guard-3", "unsafe", "selfmoa.judges.factories:llama_guard",
              "Llama Guard 3 response classification, P(unsafe)", needs_model=True),
    JudgeSpec("llama-guard-4", "unsafe", "selfmoa.judges.factories:llama_guard",
              "Llama Guard 4 response classification, P(unsafe)", needs_model=True),
    JudgeSpec("wildguard", "unsafe", "selfmoa.judges.factories:wildguard",
              "WildGuard 'Harmful response' line, P(yes)", needs_model=True),
    JudgeSpec("wildguard-refusal", "refusal", "selfmoa.judges.factories:wildguard",
              "WildGuard 'Response refusal' line, P(yes)", needs_model=True),
    JudgeSpec("shieldgemma", "unsafe", "selfmoa.judges.factories:shieldgemma",
              "ShieldGemma response policy check, P(Yes)", needs_model=True),
    JudgeSpec("reward-model", "helpfulness", "selfmoa.judges.factories:reward_model",
              "scalar reward model (sequence classification), sigmoid(reward)", needs_model=True),
)  # fmt: skip
REGISTRY: dict[str, JudgeSpec] = {spec.name: spec for spec in _SPECS}


def check_judge_names(names: list[str]) -> list[str]:
    """Validator for config lists: every name must be registered, none repeated."""
    for name in names:
        if name not in REGISTRY:
            raise ValueError(f"unknown judge '{name}'; choose from: {', '.join(REGISTRY)}")
    if len(set(names)) != len(names):
        raise ValueError("a judge is listed twice")
    return names


@dataclass
class JudgeContext:
    """What factories may need; the embedder is loaded once, on first use."""

    config: Config
    shared: dict[str, Any] = field(default_factory=dict)

    def embedder(self):  # -> SentenceEmbedder
        if "embedder" not in self.shared:
            from selfmoa.core.modelpath import resolve_model
            from selfmoa.judges.embedder import SentenceEmbedder

            path = resolve_model(self.config.models.embedder, "models.embedder")
            self.shared["embedder"] = SentenceEmbedder(path)
        return self.shared["embedder"]

    def model_path(self, name: str) -> str:
        from selfmoa.core.modelpath import resolve_model

        spec = self.config.judge.models.get(name)
        if spec is None:
            raise SelfMoaError(f"judge '{name}' needs a model: set judge.models.{name}")
        return resolve_model(spec, f"judge.models.{name}")


def build_judge(name: str, context: JudgeContext) -> Judge:
    spec = REGISTRY.get(name)
    if spec is None:
        raise SelfMoaError(f"unknown judge '{name}'; choose from: {', '.join(REGISTRY)}")
    module_name, function = spec.factory.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), function)
    except ImportError as error:
        if (error.name or "").startswith("selfmoa"):
            raise
        extra = f"pip install selfmoa[{spec.extra}]" if spec.extra else "pip install it"
        raise SelfMoaError(f"judge '{name}' needs package '{error.name}': {extra}") from None
    return factory(context, spec)


def build_judges(names: list[str], context: JudgeContext) -> list[Judge]:
    return [build_judge(name, context) for name in names]


def checked(verdict: Verdict) -> Verdict:
    """The protocol: exactly one of score and error; a score is a finite number in [0, 1]."""
    if (verdict.score is None) == (verdict.error is None):
        return Verdict(error="judge returned neither or both of score and error")
    if verdict.score is not None and not 0.0 <= verdict.score <= 1.0:  # also catches nan
        return Verdict(error=f"judge returned score {verdict.score!r} outside [0, 1]")
    return verdict


def run_judges(judges: list[Judge], items: list[JudgeInput]) -> dict[str, list[Verdict]]:
    """Every judge on every item; a judge that raises gives an error per item, others go on.

    Each item's texts are cut and cleaned per row first (``judges.text.judged_text``), so
    a score never depends on the other items. A judge that raises on the batch is asked
    again one item at a time: only the items it fails on alone get its error.
    """
    items = [
        JudgeInput(judged_text(i.prompt_text), i.prompt_label, judged_text(i.response_text))
        for i in items
    ]
    out: dict[str, list[Verdict]] = {}
    for judge in judges:
        try:
            verdicts = [checked(v) for v in verdicts_by_row(judge.judge, items)]
        except Exception as error:  # a failing judge must not stop the run or invent scores
            verdicts = [Verdict(error=f"{type(error).__name__}: {error}")] * len(items)
        out[judge.name] = verdicts
    return out

"""Factories named in ``judges.registry``: (context, spec) -> judge. Imports stay local."""

from __future__ import annotations

from selfmoa.judges.registry import JudgeContext, JudgeSpec


def keyword_refusal(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.refusal import KeywordRefusalJudge

    return KeywordRefusalJudge(context.config.judge.refusal_window_chars)


def relevance(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.helpfulness import RelevanceHelpfulnessJudge

    return RelevanceHelpfulnessJudge(context.embedder(), context.config.judge.repetition_ngram)


def lineage(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.lineage import LineageHarmJudge

    return LineageHarmJudge()


def content(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.content import ContentJudge

    return ContentJudge(spec.name, spec.measure, _content_features(context))


def content_probe(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.backends.hf import load_causal_lm, load_tokenizer, pick_device
    from selfmoa.core.modelpath import resolve_model
    from selfmoa.judges.answer_states import AnswerStates
    from selfmoa.judges.probe import ProbeJudge, load_probe_weights

    weights = load_probe_weights()
    spec_model = context.config.judge.models.get(spec.name, weights["model"])
    path = resolve_model(spec_model, f"judge.models.{spec.name}")
    # float32 whatever models.dtype says: the probe was fitted on float32 states. Not kept
    # in context.shared: a stage that judges loads it once (about a second) and frees it
    # after, so training never holds a second copy of the model.
    model = load_causal_lm(path, "float32", pick_device(context.config.models.device))
    states = AnswerStates(model, load_tokenizer(path), weights["max_tokens"])
    return ProbeJudge(spec.name, _content_features(context), states, weights)


def _content_features(context: JudgeContext):
    from selfmoa.judges.content import CachedFeatures
    from selfmoa.judges.features import FeatureExtractor

    if "content-features" not in context.shared:
        extractor = FeatureExtractor(context.embedder(), context.config.judge.refusal_window_chars)
        context.shared["content-features"] = CachedFeatures(extractor)
    return context.shared["content-features"]


def _causal_lm(context: JudgeContext, name: str):
    """(model, tokenizer) for a judge, loaded once per model path.

    A judge named in ``judge.served`` gets a ``ServedJudgeModel`` on the run's
    OpenAI-compatible server instead of local weights (its tokenizer stays local).
    """
    from selfmoa.judges.scoring import load_judge_lm

    if name in context.config.judge.served:
        return _served_lm(context, name)
    path = context.model_path(name)
    key = f"lm:{path}"
    if key not in context.shared:
        config = context.config
        context.shared[key] = load_judge_lm(path, config.models.dtype, config.models.device)
    return context.shared[key]


def _served_lm(context: JudgeContext, name: str):
    from functools import partial

    from selfmoa.backends.hf import load_tokenizer
    from selfmoa.backends.http_json import post_json
    from selfmoa.backends.openai_compat import api_key_from_env
    from selfmoa.judges.scorers import ServedJudgeModel

    backend = context.config.backend
    base_url = context.config.judge.server_url or backend.base_url
    post = partial(
        post_json,
        base_url + "/completions",
        api_key=api_key_from_env(backend.api_key_env),
        timeout_s=backend.timeout_s,
        max_retries=backend.max_retries,
    )
    served = ServedJudgeModel(post, context.config.judge.served[name], backend.concurrency)
    path = context.model_path(name)
    key = f"tokenizer:{path}"
    if key not in context.shared:  # the rubric judges of both measures share one
        context.shared[key] = load_tokenizer(path, chat=False)
    return served, context.shared[key]


def llm_rubric(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.llm import LLMRubricJudge

    model, tokenizer = _causal_lm(context, spec.name)
    return LLMRubricJudge(
        model, tokenizer, name=spec.name, measure=spec.measure,
        max_input_tokens=context.config.judge.max_input_tokens,
    )  # fmt: skip


def llama_guard(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.hf_judges import LlamaGuardJudge

    model, tokenizer = _causal_lm(context, spec.name)
    version = 4 if spec.name.endswith("4") else 3
    return LlamaGuardJudge(model, tokenizer, name=spec.name, version=version,
                           max_input_tokens=context.config.judge.max_input_tokens)  # fmt: skip


def wildguard(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.hf_judges import WildGuardJudge

    # wildguard and wildguard-refusal share one model: configure it under either name.
    models = context.config.judge.models
    owner = spec.name if spec.name in models else "wildguard"
    model, tokenizer = _causal_lm(context, owner)
    return WildGuardJudge(model, tokenizer, name=spec.name, measure=spec.measure,
                          max_input_tokens=context.config.judge.max_input_tokens)  # fmt: skip


def shieldgemma(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.hf_judges import ShieldGemmaJudge

    model, tokenizer = _causal_lm(context, spec.name)
    return ShieldGemmaJudge(model, tokenizer, name=spec.name,
                            max_input_tokens=context.config.judge.max_input_tokens)  # fmt: skip


def reward_model(context: JudgeContext, spec: JudgeSpec):
    from selfmoa.judges.hf_judges import RewardModelJudge

    path = context.model_path(spec.name)
    config = context.config
    return RewardModelJudge.load(path, config.models.dtype, config.models.device,
                                 name=spec.name,
                                 max_input_tokens=config.judge.max_input_tokens)  # fmt: skip

"""(model, tokenizer) of a model-backed judge, loaded once per ``JudgeContext``.

Shared by the Yes/No judges of ``judges.catalog`` (LLM rubric, Llama Guard, WildGuard,
ShieldGemma). Heavy imports stay inside the functions: the registry imports the catalog
before any judge is built.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from selfmoa.judges.spec import JudgeContext


def judge_lm(context: JudgeContext, name: str) -> tuple[Any, Any]:
    """(model, tokenizer) for a judge, loaded once per model path.

    A judge named in ``judge.served`` gets a ``ServedJudgeModel`` on the run's
    OpenAI-compatible server instead of local weights (its tokenizer stays local).
    """
    from selfmoa.judges.scoring import load_judge_lm  # imports torch

    if name in context.config.judge.served:
        return _served_lm(context, name)
    path = context.model_path(name)
    key = f"lm:{path}"
    if key not in context.shared:
        config = context.config
        context.shared[key] = load_judge_lm(path, config.models.dtype, config.models.device)
    return context.shared[key]


def _served_lm(context: JudgeContext, name: str) -> tuple[Any, Any]:
    from selfmoa.backends.hf import load_tokenizer  # imports transformers
    from selfmoa.backends.http_json import post_json
    from selfmoa.backends.openai_compat import api_key_from_env, served_judge_client
    from selfmoa.judges.scorers import ServedJudgeModel

    backend = served_judge_client(context.config.backend)
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

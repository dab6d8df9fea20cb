"""Request bodies for OpenAI-compatible servers and reading their answers back.

``completions``: the chat template is applied here (the policy's own tokenizer) and
the prompt goes as token ids, so a prefilled answer is simply the end of the prompt
and nothing is tokenised twice (no doubled BOS). ``chat``: the server applies its
template; a prefill becomes a final assistant message continued with
``continue_final_message`` (vLLM; llama.cpp continues a final assistant message too).
Pure functions: tested without a server.
"""

from __future__ import annotations

from typing import Any

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.served import ServedTarget
from selfmoa.core.errors import SelfMoaError


def sampling_fields(params: SamplingParams, seed: int) -> dict[str, Any]:
    """max_tokens, temperature/top_p (0 = greedy) and the request's own seed.

    The same keys are ``vllm.SamplingParams`` arguments, so the vLLM backend uses it too.
    """
    fields: dict[str, Any] = {"max_tokens": params.max_new_tokens, "seed": seed}
    if params.greedy:
        fields["temperature"] = 0.0
    else:
        fields.update(temperature=params.temperature, top_p=params.top_p)
    return fields


def completion_payload(
    target: ServedTarget, prompt_ids: list[int], params: SamplingParams, seed: int
) -> dict[str, Any]:
    return {
        "model": target.model,
        "prompt": prompt_ids,
        **sampling_fields(params, seed),
        **target.extra,
    }


def chat_messages(request: GenerationRequest) -> list[dict[str, str]]:
    messages = []
    if request.system is not None:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.user})
    if request.prefill:
        messages.append({"role": "assistant", "content": request.prefill})
    return messages


def chat_payload(
    target: ServedTarget,
    request: GenerationRequest,
    params: SamplingParams,
    seed: int,
    *,
    continue_final_message: bool,
) -> dict[str, Any]:
    if request.prefill and not continue_final_message:
        raise SelfMoaError(
            "a prefilled answer needs backend.endpoint=completions (this server's chat "
            "endpoint cannot continue an assistant message)"
        )
    payload: dict[str, Any] = {
        "model": target.model,
        "messages": chat_messages(request),
        **sampling_fields(params, seed),
        **target.extra,
    }
    if request.prefill:
        payload.update(continue_final_message=True, add_generation_prompt=False)
    return payload


def completion_text(body: Any) -> str:
    """The generated text of a /v1/completions reply."""
    try:
        text = body["choices"][0]["text"]
    except (KeyError, IndexError, TypeError):
        raise SelfMoaError(
            f"the server's completion reply has no choices[0].text: {body!r:.200}"
        ) from None
    if not isinstance(text, str):
        raise SelfMoaError("the server's completion text is not a string")
    return text


def chat_text(body: Any, prefill: str) -> str:
    """The whole answer of a /v1/chat/completions reply, starting with ``prefill``.

    Servers differ on whether a continued message is returned whole (llama.cpp) or
    only its continuation (vLLM); both give an answer that opens with the prefill.
    """
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise SelfMoaError(
            f"the server's chat reply has no choices[0].message: {body!r:.200}"
        ) from None
    content = content or ""
    if prefill and content.startswith(prefill):
        return content
    return prefill + content

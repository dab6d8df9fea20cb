"""transformers backend: batched chat generation with left padding, optional LoRA adapter.

torch and transformers are imported inside the functions that use them: importing
``selfmoa`` declares every backend (``selfmoa/__init__.py``) and must stay light.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from tqdm.auto import tqdm

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.registry import generator_factory
from selfmoa.backends.top_k_sampling import TopKFirstSampler, generation_top_k
from selfmoa.core.backend_settings import BackendSettingsBase
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model, safetensors_adapter

if TYPE_CHECKING:
    import torch


class HfBackendSettings(BackendSettingsBase):
    kind: Literal["hf"] = Field(
        "hf",
        description="Text generation backend: 'hf' (transformers, in process), 'llamacpp' "
        "(llama.cpp in process on an embedded model's GGUF, trained adapters converted), "
        "'openai' (an OpenAI-compatible server: vLLM, SGLang, TGI, llama.cpp), 'vllm' "
        "(vllm.LLM in process, needs the 'vllm' extra), 'mock' (tests). Each kind takes "
        "only its own backend.* keys.",
    )
    generation_dtype: Literal["float32", "bfloat16", "float16"] | None = Field(
        None,
        description="dtype the hf backend generates in; null: models.dtype. Training and "
        "the judges keep models.dtype. bfloat16 generated 1.8x (135M) to 2.4x (0.5B) as "
        "fast as float32 on CPU cores with AVX512-BF16 (BENCHMARKS.md, 'Generation paths "
        "against the machine's limit'); it changes near-tie tokens, so answers differ from "
        "float32's.",
    )
    sampler: Literal["transformers", "top-k"] = Field(
        "transformers",
        description="How the hf backend draws sampled tokens: 'transformers' (generate's "
        "own draw over the whole vocabulary) or 'top-k' (the same temperature / top-k / "
        "top-p distribution drawn among the top-k tokens only; faster on large "
        "vocabularies, BENCHMARKS.md 'Generation paths against the machine's limit'). "
        "Each is repeatable for a seed, but they give different answers for the same seed.",
    )


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of ``models.dtype`` ('float32', 'bfloat16' or 'float16')."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def pick_device(device: str) -> torch.device:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def quiet_transformers() -> None:
    """Our own progress bars are enough; hide per-load weight bars and advisories."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def load_tokenizer(model_path: str, chat: bool = True):  # -> PreTrainedTokenizerBase
    """The model's tokenizer (pad = eos when unset); ``chat`` requires a chat template."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except OSError as error:
        raise SelfMoaError(f"cannot load tokenizer from {model_path}: {error}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if chat and tokenizer.chat_template is None:
        raise SelfMoaError(f"{model_path} has no chat template; use an instruct/chat model")
    return tokenizer


def load_causal_lm(model_path: str, dtype: str, device: torch.device):
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=torch_dtype(dtype), use_safetensors=True
        )
    except OSError as error:
        raise SelfMoaError(f"cannot load model from {model_path}: {error}") from None
    return model.to(device)


def chat_prompt(tokenizer, request: GenerationRequest) -> str:
    messages = []
    if request.system is not None:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.user})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + request.prefill


class HFGenerator:
    """Generates with a causal LM; ``adapter`` is a PEFT LoRA folder applied on top."""

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "float32",
        device: str = "auto",
        batch_size: int = 32,
        adapter: Path | None = None,
        show_progress: bool = True,
        sampler: str = "transformers",
    ) -> None:
        self.device = pick_device(device)
        self.tokenizer = load_tokenizer(model_path)
        self.tokenizer.padding_side = "left"
        self.model = load_causal_lm(model_path, dtype, self.device)
        if adapter is not None:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, safetensors_adapter(adapter))
        self.model.eval()
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.sampler = sampler

    def generate(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[str]:
        import torch

        torch.manual_seed(seed)
        answers: list[str] = []
        starts = range(0, len(requests), self.batch_size)
        bar = tqdm(
            starts, desc="generate", leave=False, disable=not self.show_progress or len(starts) < 2
        )
        with torch.inference_mode():
            for start in bar:
                batch = requests[start : start + self.batch_size]
                answers.extend(self._generate_batch(batch, params))
        return answers

    def _generate_batch(self, batch: list[GenerationRequest], params: SamplingParams) -> list[str]:
        texts = [chat_prompt(self.tokenizer, request) for request in batch]
        encoded = self.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        sampling = self._sampling_arguments(params)
        output = self.model.generate(
            **encoded,
            max_new_tokens=params.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            **sampling,
        )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [request.prefill + text for request, text in zip(batch, decoded, strict=True)]

    def _sampling_arguments(self, params: SamplingParams) -> dict[str, Any]:
        """generate's keyword arguments for ``params`` with this generator's sampler."""
        if params.greedy:
            return {"do_sample": False}
        if self.sampler == "top-k":
            from transformers import LogitsProcessorList

            top_k = generation_top_k(self.model.generation_config)
            drawer = TopKFirstSampler(params.temperature, params.top_p, top_k)
            return {"do_sample": False, "logits_processor": LogitsProcessorList([drawer])}
        return {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}

    def close(self) -> None:
        import torch

        del self.model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@generator_factory("hf", settings=HfBackendSettings)
def hf_generator(config: Any, model_key: str, adapter: Path | None) -> HFGenerator:
    """transformers in this process on ``models.<model_key>`` with ``adapter``."""
    return HFGenerator(
        resolve_model(getattr(config.models, model_key), f"models.{model_key}"),
        # another kind's fallback to hf (openai's unserved_adapter) has no generation_dtype
        dtype=getattr(config.backend, "generation_dtype", None) or config.models.dtype,
        device=config.models.device,
        batch_size=config.backend.batch_size,
        adapter=adapter,
        sampler=getattr(config.backend, "sampler", "transformers"),
    )

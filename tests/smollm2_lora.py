"""The real SmolLM2 with a random LoRA on all seven projections, for the llama.cpp serving tests."""

from pathlib import Path
from typing import Any

SPEC = "embedded:smollm2-135m-instruct"


def random_adapter(folder: Path, rank: int = 8, alpha: int = 16, std: float = 0.2) -> Any:
    """Save to ``folder`` a LoRA on SmolLM2 whose ``lora_B`` is drawn from N(0, ``std``) (seed
    0; 0.2 moves the model far, so the adapter must show), and return the PEFT model in eval
    mode."""
    import torch
    from peft import LoraConfig, get_peft_model

    from selfmoa.backends.hf import load_causal_lm
    from selfmoa.backends.lora_gguf import GGUF_NAMES
    from selfmoa.core.modelpath import resolve_model

    torch.manual_seed(0)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(GGUF_NAMES))
    base = resolve_model(SPEC, "models.policy")
    model = get_peft_model(load_causal_lm(base, "float32", torch.device("cpu")), config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, std)
    model.eval().save_pretrained(folder)
    return model


def chat_ids(tokenizer: Any, prompts: list[str]) -> list[list[int]]:
    """Each prompt as the user turn of the chat template, as token ids."""
    from selfmoa.backends.base import GenerationRequest
    from selfmoa.backends.hf import chat_prompt

    return [
        tokenizer(chat_prompt(tokenizer, GenerationRequest(p)), add_special_tokens=False)[
            "input_ids"
        ]
        for p in prompts
    ]

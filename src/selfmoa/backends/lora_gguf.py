"""A trained PEFT LoRA adapter as a llama.cpp LoRA adapter (GGUF), so llama.cpp can serve it.

llama.cpp applies a LoRA next to the (quantised) base weight, not merged:
``y = W x + scale * B (A x)``. Its adapter file is a GGUF with ``general.type = adapter``,
``adapter.type = lora``, the base model's architecture, and per adapted weight two
tensors ``blk.{i}.<name>.weight.lora_a`` / ``.lora_b`` holding PEFT's ``lora_A`` (r, in)
and ``lora_B`` (out, r) as they are (the GGUF writer reverses numpy shapes into ggml's
order, which is what llama.cpp expects). Three details make the served answers equal
the transformers ones:

- **Scale.** llama.cpp computes ``request scale * alpha / r`` from one file-wide alpha.
  PEFT's scaling can differ per module (``rank_pattern``, ``alpha_pattern``, rsLoRA), so
  each module's exact scaling is folded into its ``lora_B`` and no alpha is written:
  llama.cpp then uses the request scale, 1.0.
- **Rotary layout of Llama.** llama.cpp stores a Llama model's q and k rows permuted
  for its rotary embedding (its converter's ``permute``), so the LoRA deltas of
  ``q_proj`` / ``k_proj`` must be permuted the same way: rows of ``lora_B`` in groups of
  heads (q: attention heads, k: key-value heads). Qwen2 uses the layout transformers
  uses and needs none.
- **Only the seven projections.** Embeddings, the output layer or ``modules_to_save``
  have no llama.cpp LoRA counterpart here and are refused, as are DoRA adapters.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from selfmoa.core.errors import SelfMoaError

GGUF_NAMES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
ARCHITECTURES = {"llama": "llama", "qwen2": "qwen2"}  # transformers model_type -> GGUF arch
PEFT_KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$"
)


def permute_rows(lora_b: np.ndarray, heads: int) -> np.ndarray:
    """Reorder the rows of a q/k ``lora_B`` (out, r) as llama.cpp stores Llama's q/k rows."""
    rows = lora_b.shape[0]
    return lora_b.reshape(heads, 2, rows // heads // 2, -1).swapaxes(1, 2).reshape(lora_b.shape)


def module_scaling(adapter_config: dict, module: str) -> float:
    """PEFT's scaling of one module: alpha / r, or alpha / sqrt(r) with rsLoRA."""
    rank = adapter_config.get("rank_pattern", {}).get(module, adapter_config["r"])
    alpha = adapter_config.get("alpha_pattern", {}).get(module, adapter_config["lora_alpha"])
    root = math.sqrt(rank) if adapter_config.get("use_rslora") else rank
    return float(alpha) / root


def gguf_tensors(
    state: dict[str, np.ndarray], adapter_config: dict, base_config: dict
) -> dict[str, np.ndarray]:
    """PEFT adapter tensors -> llama.cpp LoRA tensors (float32), scaling folded into B."""
    if adapter_config.get("use_dora"):
        raise SelfMoaError("llama.cpp cannot serve a DoRA adapter; train without use_dora")
    if adapter_config.get("modules_to_save"):
        raise SelfMoaError("llama.cpp LoRA adapters hold no modules_to_save; train without them")
    model_type = base_config.get("model_type", "")
    heads = {"q_proj": base_config["num_attention_heads"]}
    heads["k_proj"] = base_config.get("num_key_value_heads", heads["q_proj"])
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        match = PEFT_KEY.match(key)
        if match is None or match.group(2) not in GGUF_NAMES:
            raise SelfMoaError(f"adapter tensor {key} has no llama.cpp LoRA counterpart")
        layer, module, part = int(match.group(1)), match.group(2), match.group(3)
        tensor = np.asarray(value, dtype=np.float32)
        if part == "B":
            tensor = tensor * np.float32(module_scaling(adapter_config, module))
            if model_type == "llama" and module in heads:
                tensor = permute_rows(tensor, heads[module])
        name = f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{part.lower()}"
        out[name] = np.ascontiguousarray(tensor)
    stems = {part: {n.removesuffix(part) for n in out if n.endswith(part)} for part in ("a", "b")}
    unpaired = stems["a"] ^ stems["b"]
    if unpaired:
        raise SelfMoaError(f"adapter tensors without their A/B partner: {sorted(unpaired)[:3]}")
    return out


def read_adapter(adapter_dir: Path, base_model_dir: Path) -> tuple[dict[str, np.ndarray], str]:
    """A PEFT adapter folder trained on ``base_model_dir`` as llama.cpp LoRA tensors
    (``gguf_tensors``) and the GGUF architecture name; a damaged folder, an unreadable config
    or an architecture llama.cpp is not mapped for is one ``SelfMoaError`` line."""
    from safetensors.numpy import load_file

    from selfmoa.core.modelpath import safetensors_adapter

    folder = Path(safetensors_adapter(adapter_dir))
    try:
        adapter_config = json.loads((folder / "adapter_config.json").read_text())
        base_config = json.loads((base_model_dir / "config.json").read_text())
        if not isinstance(adapter_config, dict) or not isinstance(base_config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        raise SelfMoaError(f"cannot read the adapter's or base model's config: {error}") from None
    arch = ARCHITECTURES.get(base_config.get("model_type", ""))
    if arch is None:
        raise SelfMoaError(
            f"llama.cpp serving knows the architectures {', '.join(ARCHITECTURES)}, "
            f"not {base_config.get('model_type')!r}; use backend.kind=hf for this model"
        )
    try:
        tensors = gguf_tensors(
            load_file(str(folder / "adapter_model.safetensors")), adapter_config, base_config
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        # a damaged or hand-made adapter folder: name it in one line, never a traceback
        raise SelfMoaError(
            f"{folder} is not a LoRA adapter llama.cpp can serve: {error!r}"
        ) from None
    return tensors, arch


def convert_adapter(adapter_dir: Path, base_model_dir: Path, target: Path) -> Path:
    """Write ``target`` (a GGUF LoRA) from a PEFT adapter folder trained on ``base_model_dir``."""
    import gguf

    tensors, arch = read_adapter(adapter_dir, base_model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(target)
    return target

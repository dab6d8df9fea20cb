"""Every check ``selfmoa run`` would otherwise hit late, run before any model loads.

``selfmoa validate`` and ``selfmoa run`` both call ``check_config``: strategy
names against the registry, model paths, and sizes that would leave a stage
with nothing to do. Each failure is one ``SelfMoaError`` line naming the key.
(Types, ranges, weights and device names are checked by the config schema.)
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Collection
from pathlib import Path

from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import check_model_spec, safetensors_adapter
from selfmoa.data.benign import split_benign
from selfmoa.pipeline.plugin_names import check_plugin_names


def check_config(config: Config) -> None:
    check_plugin_names(config)
    for key in ("policy", "attacker", "embedder"):
        check_model_spec(getattr(config.models, key), f"models.{key}")
    _check_adapter(config.models.policy_adapter)
    _check_strategies(config)
    _check_sizes(config)
    _check_backend(config)
    _check_run_folder(config.run_dir)


def _check_strategies(config: Config) -> None:
    from selfmoa.attacks.forms import FORMS
    from selfmoa.attacks.strategies import STRATEGIES
    from selfmoa.pipeline.stages.redteam import KNOWN_STRATEGIES

    red = config.redteam
    _check_names("redteam.strategies", red.strategies, KNOWN_STRATEGIES, "unknown strategy '{}'")
    _check_names("redteam.forms", red.forms, FORMS, "unknown phrasing form '{}'")
    rules = [name for name, spec in STRATEGIES.items() if spec.kind == "rule"]
    _check_names(
        "redteam.benign_strategies", red.benign_strategies, rules, "'{}' is not a rule strategy"
    )


def _check_names(key: str, names: list[str], allowed: Collection[str], unknown: str) -> None:
    """One line when ``names`` is empty or holds a name outside ``allowed``."""
    choices = ", ".join(allowed)
    if not names:
        raise SelfMoaError(f"config error: {key} is empty; name at least one of: {choices}")
    for name in names:
        if name not in allowed:
            raise SelfMoaError(
                f"config error: {key}: {unknown.format(name)}; choose from: {choices}"
            )


def _check_adapter(adapter: str | None) -> None:
    if adapter is None:
        return
    path = Path(adapter).expanduser()
    if (path / "adapter_config.json").is_file():
        safetensors_adapter(path)  # never a pickled adapter_model.bin
    if not (path / "adapter_config.json").is_file():
        raise SelfMoaError(
            f"models.policy_adapter: {path} is not a PEFT adapter folder (no "
            "adapter_config.json); give the adapter folder of a run, e.g. "
            "runs/demo/round_00/train/adapter"
        )


def _check_sizes(config: Config) -> None:
    red = config.redteam
    if red.seeds_per_round + red.jailbreak_prompts_per_round == 0:
        raise SelfMoaError(
            "config error: redteam.seeds_per_round and redteam.jailbreak_prompts_per_round are "
            "both 0, so no round has a harmful prompt to learn from; raise one of them"
        )
    if not red.seed_sources:
        raise SelfMoaError("config error: redteam.seed_sources is empty; name at least one")
    train, heldout = split_benign(config.benign_heldout_every)
    if not heldout:
        raise SelfMoaError(
            f"config error: benign_heldout_every={config.benign_heldout_every} holds out no "
            "benign prompt for evaluation; lower it"
        )
    if red.benign_per_round and not train:
        raise SelfMoaError("config error: benign_heldout_every leaves no benign training prompt")


def _check_backend(config: Config) -> None:
    backend = config.backend
    if backend.kind == "openai" and backend.api_key_env and not os.environ.get(backend.api_key_env):
        raise SelfMoaError(
            f"config error: backend.api_key_env names the environment variable "
            f"{backend.api_key_env}, which is not set"
        )
    if backend.kind == "vllm" and importlib.util.find_spec("vllm") is None:
        raise SelfMoaError(
            "config error: backend.kind=vllm needs vLLM, which is not installed; run: "
            "pip install 'selfmoa[vllm]'"
        )


def _check_run_folder(run_dir: Path) -> None:
    """The run folder exists as a folder, or can be made: its nearest existing ancestor is
    a folder where a subfolder can really be created (tried, then removed)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise SelfMoaError(f"config error: run directory {run_dir} is a file; change name")
    ancestor = run_dir
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise SelfMoaError(
            f"config error: output_dir: {ancestor} is a file, so {run_dir} cannot be made"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".selfmoa-check-", dir=ancestor))
    except OSError as error:
        raise SelfMoaError(
            f"config error: output_dir: cannot create {run_dir} ({error.strerror or error}); "
            "choose a writable folder"
        ) from None

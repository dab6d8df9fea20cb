"""``selfmoa export RUN_DIR``: a trained round in forms other tools load directly.

Writes, under ``OUT`` (default ``RUN_DIR/export/round_NN``):
- ``adapter/``: the PEFT LoRA adapter as trained;
- ``merged/``: the policy with the adapter merged into its weights, plus its
  tokenizer, a folder plain ``transformers.AutoModelForCausalLM`` loads;
- ``pairs.jsonl`` and ``pairs.parquet``: the pairs that round trained on, in TRL's
  conversational prompt/chosen/rejected format.
Each is written to a staging folder and moved in place, so a failed export leaves
nothing half-written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from selfmoa.atomic import atomic_path
from selfmoa.config import Config
from selfmoa.data.trl_pairs import write_trl_jsonl, write_trl_parquet
from selfmoa.errors import SelfMoaError
from selfmoa.modelpath import resolve_model
from selfmoa.records import PreferencePair
from selfmoa.rundir import read_records
from selfmoa.stage_runners import training_rounds


def trained_rounds(run_dir: Path) -> list[int]:
    """Rounds whose train stage finished (manifest written) with an adapter."""
    found = []
    for folder in sorted(run_dir.glob("round_*/train")):
        if (folder / "manifest.json").is_file() and (folder / "adapter").is_dir():
            found.append(int(folder.parent.name.split("_")[1]))
    return found


def export_run(
    config: Config, out: Path | None = None, round_index: int | None = None, parquet: bool = True
) -> Path:
    run_dir = Path(config.run_dir)
    rounds = trained_rounds(run_dir)
    if not rounds:
        raise SelfMoaError(f"{run_dir} has no finished training round to export")
    r = rounds[-1] if round_index is None else round_index
    if r not in rounds:
        raise SelfMoaError(
            f"round {r} of {run_dir} has not finished training; trained rounds: "
            + ", ".join(map(str, rounds))
        )
    out = out or run_dir / "export" / f"round_{r:02d}"
    out.mkdir(parents=True, exist_ok=True)
    adapter = run_dir / f"round_{r:02d}" / "train" / "adapter"
    pairs = [
        pair
        for source in training_rounds(config, r)
        for pair in read_records(run_dir / f"round_{source:02d}/pairs/pairs.jsonl", PreferencePair)
    ]
    with atomic_path(out / "pairs.jsonl") as staging:
        write_trl_jsonl(pairs, staging)
    if parquet:
        with atomic_path(out / "pairs.parquet") as staging:
            write_trl_parquet(pairs, staging)
    with atomic_path(out / "adapter") as staging:
        shutil.copytree(adapter, staging)
    with atomic_path(out / "merged") as staging:
        merge_adapter(resolve_model(config.models.policy, "models.policy"), adapter, staging)
    return out


def merge_adapter(model_path: str, adapter: Path, target: Path) -> None:
    """Base weights + LoRA delta, saved as a plain causal LM folder with its tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(str(target))
    AutoTokenizer.from_pretrained(model_path).save_pretrained(str(target))

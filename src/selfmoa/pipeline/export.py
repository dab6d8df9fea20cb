"""``selfmoa export RUN_DIR``: a trained round in forms other tools load directly.

Writes, under ``OUT`` (default ``RUN_DIR/export/round_NN``):
- ``adapter/``: the PEFT LoRA adapter as trained;
- ``merged/``: the policy with the adapter merged into its weights, plus its
  tokenizer, a folder plain ``transformers.AutoModelForCausalLM`` loads;
- ``pairs.jsonl`` and ``pairs.parquet``: the pairs that round trained on, in TRL's
  conversational prompt/chosen/rejected format.
The whole export is written to a staging folder beside ``OUT`` and moved in place at
the end, and the adapter is checked first (``check_adapter``), so a failed export (a
damaged adapter, a full disk) is one error line and leaves no export folder behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selfmoa.core.atomic import atomic_path, disk_error, fsync_dir
from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model, safetensors_adapter
from selfmoa.core.records import PreferencePair
from selfmoa.core.rundir import RunDir, read_records
from selfmoa.data.trl_pairs import write_trl_jsonl, write_trl_parquet
from selfmoa.judges.text import first_line
from selfmoa.pipeline.stages.train import training_rounds
from selfmoa.training.loop import TrainPaths

EXPORT_ENTRIES = ("adapter", "merged", "pairs.jsonl", "pairs.parquet")
RETRAIN = "train that round again (delete its train folder and run the loop)"


def trained_rounds(run_dir: Path) -> list[int]:
    """Rounds whose train stage finished (manifest written) with an adapter."""
    run = RunDir(run_dir)
    return [
        r
        for r in run.rounds_with("train")
        if (run.round_stage("train", r) / "manifest.json").is_file()
        and TrainPaths(run.round_stage("train", r)).adapter.is_dir()
    ]


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
    out = (out or RunDir(run_dir).export_folder(r)).resolve()
    if not out.name:
        raise SelfMoaError("--out must name a folder below /")
    if out.exists() and not out.is_dir():
        raise SelfMoaError(f"--out {out} is a file; give a folder (it is created if missing)")
    adapter = TrainPaths(RunDir(run_dir).round_stage("train", r)).adapter
    check_adapter(adapter)
    pairs = round_pairs(config, run_dir, r)
    model_path = resolve_model(config.models.policy, "models.policy")
    with staged_export(out) as staging:
        write_trl_jsonl(pairs, staging / "pairs.jsonl")
        if parquet:
            write_trl_parquet(pairs, staging / "pairs.parquet")
        shutil.copytree(adapter, staging / "adapter")
        try:
            merge_adapter(model_path, adapter, staging / "merged")
        except (SelfMoaError, OSError):
            raise
        except Exception as error:  # a damaged adapter or base model: one line
            message = f"cannot merge {adapter} into {model_path}: {first_line(error)}"
            raise SelfMoaError(message) from None
    return out


def round_pairs(config: Config, run_dir: Path, r: int) -> list[PreferencePair]:
    """The pairs round ``r`` trained on (with replayed rounds)."""
    pairs = []
    for source in training_rounds(config, r):
        path = RunDir(run_dir).round_stage("pairs", source) / "pairs.jsonl"
        pairs += read_records(path, PreferencePair)  # a damaged line is one error
    return pairs


def check_adapter(adapter: Path) -> None:
    """Refuse a damaged adapter folder in one line, before anything is written."""
    config = adapter / "adapter_config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # missing, unreadable, not UTF-8, not JSON
        raise SelfMoaError(f"{config} is damaged ({first_line(error)}); {RETRAIN}") from None
    if not isinstance(data, dict):
        raise SelfMoaError(f"{config} is damaged (not a JSON object); {RETRAIN}")
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():  # never adapter_model.bin: a pickle
        raise SelfMoaError(f"{adapter} has no adapter_model.safetensors; {RETRAIN}")
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            for key in handle.keys():  # a LoRA adapter is small: read every tensor
                handle.get_tensor(key)
    except Exception as error:  # truncated or overwritten: the library's own error types
        raise SelfMoaError(f"{weights} is damaged ({first_line(error)}); {RETRAIN}") from None


@contextmanager
def staged_export(out: Path) -> Iterator[Path]:
    """A staging folder beside ``out`` to write the whole export into. When the block
    succeeds, its entries replace ``out``'s (``out`` is created if missing; other files
    in it are kept, earlier export entries not written this time are removed); when it
    fails, the staging folder is removed and ``out`` is as it was (folders created for
    it are removed again)."""
    created = [p for p in (out.parent, *out.parent.parents) if not p.exists()]  # inner first
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise disk_error(error, out) from None
    complete = out.with_name(f".{out.name}.export")
    try:
        with atomic_path(complete) as staging:  # fsynced, and removed on failure
            staging.mkdir()
            yield staging
    except BaseException:
        for folder in created:
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): leave it
                break
        raise
    try:
        if not out.exists():
            os.replace(complete, out)
            fsync_dir(out.parent)
            return
        for name in EXPORT_ENTRIES:
            old = out / f".{name}.old"
            if (out / name).exists():
                os.replace(out / name, old)
            if (complete / name).exists():
                os.replace(complete / name, out / name)
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
        shutil.rmtree(complete)
        fsync_dir(out)
    except OSError as error:
        raise disk_error(error, out) from None


def merge_adapter(model_path: str, adapter: Path, target: Path) -> None:
    """Base weights + LoRA delta, saved as a plain causal LM folder with its tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=torch.float32, use_safetensors=True
    )
    merged = PeftModel.from_pretrained(base, safetensors_adapter(adapter)).merge_and_unload()
    merged.save_pretrained(str(target))
    AutoTokenizer.from_pretrained(model_path).save_pretrained(str(target))

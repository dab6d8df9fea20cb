"""Finished stages shared between runs, addressed by their fingerprint.

A stage's fingerprint already hashes everything it computes from: the config keys
it reads (never the run's name or folder), the content of its data and model assets,
the judges' fitted weights and its upstream stages' outputs. Two runs whose baseline
evaluation has the same fingerprint would compute the same answers and verdicts, so
a stage marked ``shared`` in the stage table copies its outputs into
``<selfmoa cache>/stages/<fingerprint>/`` when it finishes, and a later run with the
same fingerprint copies them back instead of generating again (``[cached]`` in the
log). On reuse every file's sha256 must match the one recorded with it; anything
missing or changed is ignored and the stage runs. ``SELFMOA_STAGE_CACHE=off`` turns
the sharing off.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from selfmoa.core.atomic import atomic_write_json
from selfmoa.core.embedded import cache_dir
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import StageDir, read_json_object, sha256_of

RECORD = "record.json"


def enabled() -> bool:
    return os.environ.get("SELFMOA_STAGE_CACHE", "on").lower() not in ("off", "0", "no")


def entry(fingerprint: str) -> Path:
    return cache_dir() / "stages" / fingerprint


def restore(fingerprint: str, stage: StageDir, outputs: tuple[str, ...]) -> dict[str, Any] | None:
    """Copy a cached stage's outputs into ``stage``; its record, or None when there is none
    (or it is incomplete or damaged: then nothing usable was copied and the stage runs)."""
    folder = entry(fingerprint)
    if not enabled() or not (folder / RECORD).is_file():
        return None
    try:
        record = read_json_object(folder / RECORD, "shared stage record")
        hashes = record["outputs"]
        if sorted(hashes) != sorted(outputs):
            return None
        for name in outputs:
            source = folder / name
            if not source.is_file() or source.is_symlink() or sha256_of(source) != hashes[name]:
                return None
        for name in outputs:
            shutil.copyfile(folder / name, stage.file(name))
    except (OSError, KeyError, TypeError, ValueError, SelfMoaError):
        return None
    return record


def store(
    fingerprint: str,
    stage: StageDir,
    outputs: dict[str, str],
    counts: dict[str, Any],
    seconds: float,
    device: str | None,
) -> str | None:
    """Keep a finished stage's file outputs for later runs. Returns a warning when that
    failed (the run goes on: sharing is an optimisation), else None."""
    if not enabled() or not all(stage.file(name).is_file() for name in outputs):
        return None
    folder = entry(fingerprint)
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in outputs:
            shutil.copyfile(stage.file(name), partial / name)
        record = {"outputs": outputs, "counts": counts, "seconds": seconds, "device": device}
        atomic_write_json(partial / RECORD, record)
        if folder.exists():
            shutil.rmtree(partial)  # another run stored the same stage first
        else:
            partial.rename(folder)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        return f"[warning] could not share {stage.label} in {folder}: {error}"
    return None

"""``selfmoa train CONFIG --pairs FILE``: train the policy on pairs from a file.

The pairs are in TRL's prompt/chosen/rejected format (``data/trl_pairs.py``), from a file or a
``datasets`` id (``hf:NAME[:SPLIT]``), e.g. a human-labelled set, so it can be compared
with self-generated pairs at an equal pair budget (``train.max_pairs``). Training is the
loop's own (``training/loop.py``, the config's ``train`` section, ``models.policy``),
into ``OUT`` (default ``RUN_DIR/external_train``); it resumes from its checkpoints like
a loop round. An ``OUT`` already used for other pairs is refused, since its cached
reference log-probs belong to those. ``OUT/inputs.sha256`` (the pairs, the ``train``
settings, the policy model, its dtype and the seed) only binds a folder where training
wrote state: a try that failed before that (e.g. pairs of an objective without a
weight) leaves no stamp behind, and a stale stamp over no state is replaced, so the
corrected retry runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfmoa.core.atomic import atomic_write_text, disk_error
from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.rundir import RunDir
from selfmoa.data.trl_pairs import DATASET_PREFIX, read_trl_dataset, read_trl_pairs

if TYPE_CHECKING:
    from selfmoa.training.loop import TrainPaths


def train_on_file(
    config: Config, pairs_file: Path | str, out: Path | None = None, objective: str = "safety"
) -> tuple[Path, dict[str, Any]]:
    """``pairs_file``: a .jsonl/.parquet path, or ``hf:NAME[:SPLIT]`` for a dataset."""
    from selfmoa.training.loop import TrainPaths, train_preference_lora

    if str(pairs_file).startswith(DATASET_PREFIX):
        pairs = read_trl_dataset(str(pairs_file), objective)
    else:
        pairs = read_trl_pairs(Path(pairs_file), objective)
    if out is None:  # inside the config's run directory: a run of selfmoa's like any other
        run = RunDir(Path(config.run_dir))
        run.check_schema(create=True)
        out = run.external_train_folder
    if out.is_symlink():
        raise SelfMoaError(f"--out {out} is a symbolic link; give a folder")
    if out.exists() and not out.is_dir():
        raise SelfMoaError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "inputs.sha256").is_file():
        raise SelfMoaError(
            f"--out {out} holds files selfmoa train did not write; give a new or empty folder"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise disk_error(error, out) from None
    # the policy, its dtype and the seed decide the reference log-probs as much as the pairs
    model = f"{config.models.policy}\n{config.models.dtype}\n{config.seed}\n"
    digest = hashlib.sha256(
        "\n".join(p.model_dump_json() for p in pairs).encode()
        + config.train.model_dump_json().encode()
        + model.encode()
    ).hexdigest()
    paths = TrainPaths(out)
    stamp = out / "inputs.sha256"
    if stamp.is_file() and stamp.read_text().strip() != digest and started(paths):
        raise SelfMoaError(f"{out} was trained on other pairs or settings; use a new --out")
    try:
        atomic_write_text(stamp, digest + "\n")
        stats = train_preference_lora(
            resolve_model(config.models.policy, "models.policy"),
            pairs,
            config.train,
            paths,
            dtype=config.models.dtype,
            device=config.models.device,
            seed=config.seed,
            parallel=config.parallel,
        )
    except BaseException:
        if not started(paths):  # nothing trained: the next try may bring other pairs
            stamp.unlink(missing_ok=True)
        raise
    return paths.adapter, stats


def started(paths: TrainPaths) -> bool:
    """Whether training in ``paths`` got as far as writing state tied to its inputs
    (cached reference log-probs, a checkpoint, metrics or the adapter)."""
    return any(
        path.exists() for path in (paths.reference, paths.checkpoint, paths.metrics, paths.adapter)
    )

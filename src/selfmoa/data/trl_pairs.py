"""Preference pairs in TRL's prompt/chosen/rejected format, both ways.

TRL's preference datasets have three columns. In the *conversational* form each is a
list of messages (``prompt``: the user turn; ``chosen``/``rejected``: one assistant
turn); in the *standard* form each is a string. selfmoa writes the conversational
form (TRL then applies the model's chat template, as selfmoa's training does) with
``id`` and ``objective`` as extra columns, and reads either form from JSONL or
Parquet, so human-labelled sets (PKU-SafeRLHF, HH-RLHF) exported to that format can
be trained on next to self-generated pairs.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from selfmoa.core.config import OBJECTIVE_NAME
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.jsonl_input import parse_json, text_lines
from selfmoa.core.records import PreferencePair
from selfmoa.core.text_safety import SURROGATE


def to_trl_row(pair: PreferencePair) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": pair.prompt_text}],
        "chosen": [{"role": "assistant", "content": pair.chosen_text}],
        "rejected": [{"role": "assistant", "content": pair.rejected_text}],
        "id": pair.id,
        "objective": pair.objective,
    }


def write_trl_jsonl(pairs: list[PreferencePair], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(to_trl_row(pair), ensure_ascii=False) + "\n")


def write_trl_parquet(pairs: list[PreferencePair], path: Path) -> None:
    pyarrow, parquet = _pyarrow()
    parquet.write_table(pyarrow.Table.from_pylist([to_trl_row(p) for p in pairs]), str(path))


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise SelfMoaError(
            "Parquet needs pyarrow: pip install pyarrow (or use a .jsonl file)"
        ) from error
    return pyarrow, parquet


def read_trl_pairs(path: Path, objective: str = "safety") -> list[PreferencePair]:
    """Pairs from a TRL-format ``.jsonl`` or ``.parquet`` file; ``objective`` is used for
    rows without an ``objective`` column (external sets rank pairs on one criterion)."""
    if not path.is_file():
        raise SelfMoaError(f"pairs file {path} does not exist")
    if path.suffix == ".parquet":
        rows = [(f"{path} row {n}", row) for n, row in enumerate(_parquet_rows(path), 1)]
    elif path.suffix == ".jsonl":
        rows = []
        for number, line in text_lines(path):
            if line.strip():
                try:
                    rows.append((f"{path} line {number}", parse_json(line)))
                except ValueError as error:
                    raise SelfMoaError(
                        f"{path} line {number} is not a JSON record ({error})"
                    ) from None
    else:
        raise SelfMoaError(f"pairs file {path}: expected a .jsonl or .parquet file")
    if not rows:
        raise SelfMoaError(f"pairs file {path} holds no pairs")
    return [_pair(row, where, objective) for where, row in rows]


def _parquet_rows(path: Path) -> list[Any]:
    parquet = _pyarrow()[1]
    try:
        return parquet.read_table(str(path)).to_pylist()
    except Exception as error:  # damaged or not Parquet: one line, not a traceback
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SelfMoaError(f"pairs file {path} is not a readable Parquet file: {first}") from None


DATASET_PREFIX = "hf:"
_OBJECTIVE_NAME = re.compile(OBJECTIVE_NAME)


def read_trl_dataset(spec: str, objective: str = "safety") -> list[PreferencePair]:
    """Pairs from a ``datasets`` id in TRL's format: ``hf:NAME`` or ``hf:NAME:SPLIT``
    (split ``train`` by default). NAME is a hub id where the hub is reachable, or a
    local folder of data files (JSON Lines, Parquet, CSV; not a ``save_to_disk``
    folder); rows are read as in ``read_trl_pairs``."""
    name, _, split = spec.removeprefix(DATASET_PREFIX).partition(":")
    split = split or "train"
    try:
        import datasets
    except ImportError as error:
        raise SelfMoaError("--pairs hf:... needs the datasets package: pip install datasets") from (
            error
        )
    try:
        rows = datasets.load_dataset(name, split=split).to_list()
    except Exception as error:  # hub offline, unknown id or split: one line, not a traceback
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SelfMoaError(f"could not load the dataset {name!r} (split {split}): {first}") from (
            None
        )
    if not rows:
        raise SelfMoaError(f"the dataset {name!r} (split {split}) holds no pairs")
    return [_pair(row, f"{name} row {n}", objective) for n, row in enumerate(rows, 1)]


def _text(value: Any, role: str, where: str, column: str) -> str:
    """A column's text: a string, or a one-message list with the expected role; never
    empty or only whitespace (nothing to learn from, and a prompt the template drops)."""
    if isinstance(value, str):
        text = value
    elif (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], dict)
        and value[0].get("role") == role
        and isinstance(value[0].get("content"), str)
    ):
        text = value[0]["content"]
    else:
        raise SelfMoaError(
            f"{where}: '{column}' must be a string or one {role} message "
            "(multi-turn conversations are not supported)"
        )
    if not text.strip():
        raise SelfMoaError(f"{where}: '{column}' is empty; every pair needs three texts")
    if SURROGATE.search(text):
        raise SelfMoaError(
            f"{where}: '{column}' holds an unpaired surrogate escape (e.g. half an emoji, "
            "\\ud83d); fix the text"
        )
    return text


def _pair(row: Any, where: str, default_objective: str) -> PreferencePair:
    if not isinstance(row, dict) or not {"prompt", "chosen", "rejected"} <= row.keys():
        raise SelfMoaError(f"{where}: needs the columns prompt, chosen and rejected")
    prompt = _text(row["prompt"], "user", where, "prompt")
    chosen = _text(row["chosen"], "assistant", where, "chosen")
    rejected = _text(row["rejected"], "assistant", where, "rejected")
    objective = row.get("objective") or default_objective
    if not isinstance(objective, str) or not _OBJECTIVE_NAME.match(objective):
        raise SelfMoaError(
            f"{where}: objective must be an objective name such as safety or helpfulness, "
            f"not {objective!r}"
        )
    row_id = row.get("id")
    if row_id is not None and (isinstance(row_id, bool) or not isinstance(row_id, str | int)):
        raise SelfMoaError(f"{where}: 'id' must be a string or an integer")
    digest = hashlib.sha256(f"{prompt}\n{chosen}\n{rejected}".encode()).hexdigest()[:12]
    return PreferencePair(
        id=str(row_id or f"external:{digest}"),
        prompt_id=f"external:{hashlib.sha256(prompt.encode()).hexdigest()[:12]}",
        prompt_text=prompt,
        objective=objective,
        chosen_response_id=f"external:{digest}:chosen",
        chosen_text=chosen,
        rejected_response_id=f"external:{digest}:rejected",
        rejected_text=rejected,
        margins={},
    )

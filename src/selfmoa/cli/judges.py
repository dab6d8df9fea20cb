"""``selfmoa judges score|eval``: judge any JSONL file, or measure judges against human labels.

score: input lines {"id", "prompt", "response", "label"} (label "harmful", the default,
or "benign"); output lines {"id", "refused", "unsafe", "helpfulness", "scores", "errors"}
with the verdicts of ``selfmoa.judges.verdicts.decide`` over the config's
``judge.evaluation_judges`` -- exactly what the evaluate stage records.
eval: see ``selfmoa.judges.evaluation``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from selfmoa.core.atomic import disk_error
from selfmoa.core.config import Config, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.jsonl_input import parse_json, text_lines

DEFAULT_CONFIG = Path("configs/default.yaml")
LABELS = ("harmful", "benign")


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="judges_command", required=True)
    score = commands.add_parser("score", help="score a JSONL file with the evaluation judges")
    score.add_argument("input", help='JSONL lines {"id", "prompt", "response", "label"}')
    score.add_argument("--config", help=f"YAML config (default {DEFAULT_CONFIG})")
    score.add_argument("--output", help="output JSONL (default stdout)")
    score.add_argument("--batch-size", type=int, default=64, help="items judged together")
    evaluate = commands.add_parser(
        "eval", help="measure the evaluation judges and the label model against human labels"
    )
    evaluate.add_argument("--config", help=f"YAML config (default {DEFAULT_CONFIG})")
    evaluate.add_argument(
        "--gold",
        help='gold set, JSONL {"id", "prompt", "response", "label", '
        '"unsafe", "refused", "helpful"} (default: the team\'s gold set of '
        "the embedded model's answers, data/gold/embedded_v1.jsonl)",
    )
    evaluate.add_argument("--no-gold", action="store_true", help="skip the gold set")  # fmt: skip
    evaluate.add_argument("--no-pyrit", action="store_true", help="skip PyRIT's scorer_evals")
    evaluate.add_argument("--sets", default="refusal,objective,harm",
                          help="PyRIT sets to use (comma-separated)")  # fmt: skip
    evaluate.add_argument("--limit", type=int, default=0, help="at most this many rows per set")
    evaluate.add_argument("--output", help="also write the results as JSON here")


def config_for(path: str | None) -> Config:
    if path is not None:
        return load_config(path)
    return load_config(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else Config()


def read_items(path: str) -> list[dict[str, Any]]:
    """Validated input rows; any bad line is one error naming the file and line.

    Each row is an object with string ``prompt`` and ``response``, an optional ``label``
    ("harmful" or "benign") and an optional ``id`` (a string or an integer; the line
    number when missing). Texts of any length are read; judges cut them per row
    (``judges.text.judged_text``).
    """
    source = Path(path)
    if not source.is_file():
        raise SelfMoaError(f"input file not found: {path}")
    items = []
    for number, line in text_lines(source):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = parse_json(line)
        except ValueError as error:
            raise SelfMoaError(f"{where}: not valid JSON ({error})") from None
        items.append(_item(row, where, number))
    return items


def _item(row: Any, where: str, number: int) -> dict[str, Any]:
    """One input row checked: prompt/response strings, a known label, a usable id."""
    if not isinstance(row, dict):
        raise SelfMoaError(f"{where}: expected a JSON object")
    for key in ("prompt", "response"):
        if not isinstance(row.get(key), str):
            found = "missing" if key not in row else _json_type(row[key])
            raise SelfMoaError(f"{where}: '{key}' must be a string, not {found}")
    label = row.get("label", "harmful")
    if label not in LABELS:
        raise SelfMoaError(f"{where}: unknown label {label!r}; use 'harmful' or 'benign'")
    row_id = row.get("id")
    if row_id is None:
        row_id = number
    elif isinstance(row_id, bool) or not isinstance(row_id, str | int):
        raise SelfMoaError(f"{where}: 'id' must be a string or an integer")
    return {**row, "id": str(row_id), "label": label}


def _json_type(value: Any) -> str:
    """What a JSON value is, with its article: "null", "a number", "an object" ..."""
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list",
             dict: "an object"}  # fmt: skip
    return "null" if value is None else names.get(type(value), type(value).__name__)


def open_output(path: str) -> IO[str]:
    """``--output`` opened for writing; a missing folder or a folder given is one line."""
    target = Path(path)
    if target.is_dir():
        raise SelfMoaError(f"--output {path} is a folder; give a file name")
    if not target.parent.is_dir():
        raise SelfMoaError(f"--output {path}: folder {target.parent} does not exist; create it")
    try:
        return open(target, "w", encoding="utf-8")
    except OSError as error:
        raise disk_error(error, target) from None


def score_rows(config: Config, rows: list[dict[str, Any]], batch_size: int = 64) -> Iterator[dict]:
    """Output rows for input rows, judged in batches by the config's evaluation judges."""
    from selfmoa.judges.base import JudgeInput
    from selfmoa.judges.registry import JudgeContext, build_judges, run_judges
    from selfmoa.judges.verdicts import decide

    judges = build_judges(config.judge.evaluation_judges, JudgeContext(config))
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        inputs = [JudgeInput(r["prompt"], r["label"], r["response"]) for r in batch]
        verdicts = run_judges(judges, inputs)
        for index, row in enumerate(batch):
            decision = decide(
                row["label"], [(j.name, j.measure, verdicts[j.name][index]) for j in judges]
            )
            yield {
                "id": row["id"],
                "refused": decision.refused,
                "unsafe": decision.unsafe,
                "helpfulness": decision.helpfulness,
                "scores": decision.scores,
                "errors": decision.errors,
            }


def combined(config: Config, rows: list[dict], results: list[dict]) -> list[dict]:
    """Results with refused/unsafe re-decided by the label model (judge.verdicts)."""
    from selfmoa.core.records import EvalItem
    from selfmoa.judges.combine import label_model_verdicts
    from selfmoa.judges.registry import REGISTRY

    items = [
        EvalItem(id=r["id"], eval_set="input", label=row["label"], prompt_text=row["prompt"],
                 response=row["response"], refused=r["refused"], unsafe=r["unsafe"],
                 helpfulness=r["helpfulness"], scores=r["scores"])
        for row, r in zip(rows, results, strict=True)
    ]  # fmt: skip
    measures = {name: REGISTRY[name].measure for name in config.judge.evaluation_judges}
    decided = label_model_verdicts(items, measures)
    return [
        {**r, "refused": item.refused, "unsafe": item.unsafe}
        for r, item in zip(results, decided, strict=True)
    ]


def _score(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise SelfMoaError("--batch-size must be at least 1")
    rows = read_items(args.input)
    config = config_for(args.config)
    out: IO[str] = open_output(args.output) if args.output else sys.stdout
    try:
        results = score_rows(config, rows, args.batch_size)
        if config.judge.verdicts == "label-model":  # fitted over the whole file, as evaluate
            results = iter(combined(config, rows, list(results)))
        for result in results:
            try:
                out.write(json.dumps(result) + "\n")
                out.flush()  # rows written so far stay written if a later one fails
            except OSError as error:  # e.g. a full disk: one line naming the file
                raise disk_error(error, Path(args.output or "<stdout>")) from None
    finally:
        if out is not sys.stdout:
            out.close()


def run(args: argparse.Namespace) -> None:
    if args.judges_command == "score":
        _score(args)
    else:
        from selfmoa.judges.evaluation import run_eval

        run_eval(args, config_for(args.config))

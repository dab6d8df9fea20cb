"""Scoring a JSONL file of answers with the evaluation judges (``selfmoa judges score``).

``read_items`` validates the input rows (one error line naming the file and line for a bad
row); ``score_rows`` judges them in batches and decides the verdicts exactly as the evaluate
stage does; ``combined`` re-decides them with the label model when ``judge.verdicts`` asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.jsonl_input import parse_json, text_lines
from selfmoa.core.records import EvalItem
from selfmoa.judges.base import JudgeInput
from selfmoa.judges.combine import label_model_verdicts
from selfmoa.judges.registry import REGISTRY, JudgeContext, build_judges, run_judges
from selfmoa.judges.verdicts import decide

LABELS = ("harmful", "benign")


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


def score_rows(config: Config, rows: list[dict[str, Any]], batch_size: int = 64) -> Iterator[dict]:
    """Output rows for input rows, judged in batches by the config's evaluation judges."""

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

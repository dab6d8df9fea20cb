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
from pathlib import Path
from typing import IO

from selfmoa.core.atomic import disk_error
from selfmoa.core.config import Config, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.judges.evaluation import run_eval
from selfmoa.judges.file_scoring import combined, read_items, score_rows
from selfmoa.judges.registry import JudgeContext, build_judges
from selfmoa.judges.source_eval import evaluate_by_source, print_by_source
from selfmoa.pipeline.plugin_names import check_plugin_names

NAME = "judges"
HELP = "score files with judges; measure them"
DEFAULT_CONFIG = Path("configs/default.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    evaluate.add_argument(
        "--by-source",
        action="store_true",
        help="per source of human labels (PyRIT objective, each harm set, refusal, each "
        "gold set), candidates ranked by their worst held-out source",
    )
    evaluate.add_argument(
        "--scores", help="with --by-source: also write every item's judge scores (JSONL) here"
    )


def config_for(path: str | None) -> Config:
    """The given config, or the packaged default (from any folder), its judge names checked."""
    config = load_config(path)
    check_plugin_names(config)
    return config


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


def execute(args: argparse.Namespace) -> None:
    if args.judges_command == "score":
        _score(args)
    elif args.by_source:
        config = config_for(args.config)
        for path in (args.output, args.scores):
            if path:
                open_output(path).close()  # a bad path fails before the judges run
        judges = build_judges(config.judge.evaluation_judges, JudgeContext(config))
        scores = Path(args.scores) if args.scores else None
        result = evaluate_by_source(judges, args.limit, scores=scores)
        print_by_source(result, args.output)
    else:
        run_eval(args, config_for(args.config))

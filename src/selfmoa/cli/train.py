"""``selfmoa train CONFIG --pairs FILE``: train the policy on TRL-format preference pairs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from selfmoa.cli.common import add_config_arguments
from selfmoa.core.config import load_config
from selfmoa.pipeline.external_train import train_on_file

NAME = "train"
HELP = "train the policy on TRL-format pairs from a file (prompt/chosen/rejected)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--pairs",
        required=True,
        help=".jsonl or .parquet in TRL's format, or hf:NAME[:SPLIT] for a datasets id "
        "(a hub id where the hub is reachable, or a local folder of data files)",
    )
    parser.add_argument("--out", help="output folder (default RUN_DIR/external_train)")
    parser.add_argument(
        "--objective",
        default="safety",
        help="objective of rows without an 'objective' column (safety, helpfulness or an "
        "extra objective of the config)",
    )


def execute(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else None
    adapter, stats = train_on_file(config, args.pairs, out, args.objective)
    if int(os.environ.get("RANK", "0")) == 0:  # once under a launcher
        print(f"adapter: {adapter} ({stats['steps']} steps on {stats['pairs']} pairs)")

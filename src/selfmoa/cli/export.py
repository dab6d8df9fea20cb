"""``selfmoa export RUN_DIR``: a trained round's adapter, merged model and TRL-format pairs."""

from __future__ import annotations

import argparse
from pathlib import Path

from selfmoa.cli.common import run_config

NAME = "export"
HELP = "adapter, merged model folder and TRL-format pairs of a trained round"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--round", type=int, help="round to export (default: the last trained)")
    parser.add_argument("--out", help="output folder (default RUN_DIR/export/round_NN)")
    parser.add_argument("--no-parquet", action="store_true", help="write pairs.jsonl only")


def execute(args: argparse.Namespace) -> None:
    from selfmoa.pipeline.export import export_run  # torch: imported only when needed

    out = Path(args.out) if args.out else None
    folder = export_run(run_config(args.run_dir), out, args.round, not args.no_parquet)
    print(f"exported: {folder} (adapter/, merged/, pairs.jsonl)")

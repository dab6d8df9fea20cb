"""``selfmoa sweep CONFIG --weights ...``: one adapter per objective-weight vector; Pareto table."""

from __future__ import annotations

import argparse
import os

from selfmoa.cli.common import add_config_arguments
from selfmoa.core.config import load_config

NAME = "sweep"
HELP = "one adapter per objective-weight vector on the same pairs; Pareto table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--weights",
        nargs="+",
        default=[],
        metavar="W",
        help="weight vectors, e.g. safety=1,helpfulness=0 safety=1,helpfulness=0.5 "
        "(default: the config's train.objective_weights)",
    )
    parser.add_argument(
        "--pair-budgets",
        nargs="+",
        type=int,
        default=[],
        metavar="N",
        help="train each weight vector on seeded samples of N pairs (data-efficiency curve)",
    )


def execute(args: argparse.Namespace) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from selfmoa.pipeline.sweep import run_sweep, weights_argument  # torch: when it runs

    config = load_config(args.config, args.overrides)
    table = run_sweep(config, weights_argument(args.weights), pair_budgets=args.pair_budgets)
    print(f"\nsweep: {table}")
